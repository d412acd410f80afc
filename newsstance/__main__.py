import sys

from newsstance.cli import main

sys.exit(main())
