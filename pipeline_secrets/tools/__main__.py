import sys

from pipeline_secrets.tools.cli import main

sys.exit(main())
