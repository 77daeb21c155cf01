"""Storage adapters: SQLAlchemy repositories, the unit of work, migrations, key files."""
