import sys

from bench.run import main

if __name__ == "__main__":  # the local server's web workers import this module again
    sys.exit(main())
