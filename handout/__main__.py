import sys

from handout.build import main

sys.exit(main())
