"""Entry point of bench/generate/search_text.py (its docstring says what it writes); --help
lists the options. PostgreSQL only, on a database whose name contains "bench":

    DATABASE_URL=postgres://…/<…bench…> .venv/bin/python bench/generate_search_text.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import run

if __name__ == "__main__":
    run("bench.generate.search_text")
