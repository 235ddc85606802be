"""The bot's HTTP side, served by ``publisher run``: the API (``api.create_app``), its tokens."""
