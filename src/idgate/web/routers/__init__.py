"""One router per feature; each is built by a factory so ``create_app`` can choose what to mount."""
