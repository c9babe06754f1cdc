#!/usr/bin/python3
"""Writes the browser's Fashion-MNIST data pack: the first N training and M test images of Debian's
dataset-fashion-mnist, as uncompressed IDX files (the WebAssembly build has no zlib).

  python3 tools/data/make_fashion_mnist_pack.py OUT_DIR [--train 10000] [--test 2000] [--source DIR]

The subset keeps the files' order, so it is exactly what `--train_limit=N --test_limit=M` selects natively.
Run by the web build (web/app/CMakeLists.txt); the browser fetches the four files only when a person picks
Fashion-MNIST.
"""
import argparse
import gzip
import os
import struct
import sys

FILES = [("train-images-idx3-ubyte", "train"), ("train-labels-idx1-ubyte", "train"),
         ("t10k-images-idx3-ubyte", "test"), ("t10k-labels-idx1-ubyte", "test")]


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    rank = data[3]
    dims = list(struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank]))
    return dims, data[4 + 4 * rank:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    for name, split in FILES:
        source = os.path.join(args.source, name)
        if not os.path.exists(source):
            source += ".gz"
        if not os.path.exists(source):
            sys.exit(f"make_fashion_mnist_pack: {source} is missing (Debian package dataset-fashion-mnist)")
        dims, body = read_idx(source)
        keep = min(dims[0], args.train if split == "train" else args.test)
        per_item = 1
        for d in dims[1:]:
            per_item *= d
        out = bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), keep, *dims[1:]) + body[:keep * per_item]
        target = os.path.join(args.out_dir, name)
        with open(target + ".tmp", "wb") as f:
            f.write(out)
        os.replace(target + ".tmp", target)
    print(f"make_fashion_mnist_pack: {args.train} training and {args.test} test images in {args.out_dir}")


if __name__ == "__main__":
    main()
