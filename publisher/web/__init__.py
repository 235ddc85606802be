"""The bot's HTTP side, served by ``publisher run``: the API, its tokens, the staff console."""
