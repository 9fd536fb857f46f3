"""The ``tinybase`` command line (Typer): ``init``, ``serve``, ``db``, ``admin``, ``version``."""
