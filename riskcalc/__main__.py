import sys

from riskcalc.cli import main

sys.exit(main())
