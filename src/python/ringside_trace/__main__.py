"""Entry point: python3 -m ringside_trace SINK_DIR [--verify] [--format jsonl|csv|none]."""

import sys

from .reader import main

sys.exit(main())
