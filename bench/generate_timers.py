"""Entry point of bench/generate/timers.py (its docstring says what it writes); --help lists
the options. PostgreSQL only, on a database whose name contains "bench":

    DATABASE_URL=postgres://…/<…bench…> .venv/bin/python bench/generate_timers.py …
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import run

if __name__ == "__main__":
    run("bench.generate.timers")
