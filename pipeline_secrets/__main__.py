import sys

from pipeline_secrets.cli import main

sys.exit(main())
