"""placeholder"""
import sys
def main(argv=None):
    import argparse
    argparse.ArgumentParser().parse_args(argv)
