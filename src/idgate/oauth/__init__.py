"""idgate and OAuth 2.0 / OpenID Connect: the social-login client (``oauth.client``).

Protocol code only: no web framework, no SQL. It hands verified identities to
``idgate.core.federation``; the pages in ``idgate.web.pages.social`` drive it.
"""
