"""Train the plate reader: a small convolutional network with a CTC head over 32 columns.

    python -m models.training.train_reader [--samples N] [--epochs E] [--out models/]

Data: ``platesynth.reader_sample`` only (rendered plates, nothing photographed). Input: the grey
32 x 128 image of ``edge.anpr.preprocess.reader_input``. Output: per column, logits over blank + 0-9 + A-Z.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from edge.anpr.preprocess import READER_H, READER_W, reader_input
from models.training import platesynth
from models.training.dataset import generate, limit_threads, progress

ALPHABET = platesynth.ALPHABET  # index 0 is the CTC blank, then ALPHABET[i - 1]
MAX_LABEL = 10
RECIPE_VERSION = 6


def make_reader_samples(seed: int, count: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = np.zeros((count, READER_H, READER_W), np.uint8)
    labels = np.zeros((count, MAX_LABEL), np.int32)
    lengths = np.zeros((count,), np.int32)
    for i in range(count):
        crop, text, two_row = platesynth.reader_sample(rng)
        text = text[:MAX_LABEL]
        images[i] = reader_input(crop, two_row=two_row)
        labels[i, : len(text)] = [ALPHABET.index(c) + 1 for c in text]
        lengths[i] = len(text)
    return {"images": images, "labels": labels, "lengths": lengths}


def build_model():  # type: ignore[no-untyped-def]
    import tensorflow as tf
    from tensorflow import keras
    from tensorflow.keras import layers

    def block(x, filters, pool):  # type: ignore[no-untyped-def]
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if pool is not None:
            x = layers.MaxPooling2D(pool)(x)
        return x

    inp = keras.Input((READER_H, READER_W, 1), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inp)
    x = block(x, 16, (2, 2))  # 16 x 64
    x = block(x, 32, (2, 2))  # 8 x 32
    x = block(x, 48, None)
    x = block(x, 48, (2, 1))  # 4 x 32
    x = block(x, 80, (2, 1))  # 2 x 32
    x = layers.Conv2D(112, (2, 1), padding="valid", use_bias=False)(x)  # 1 x 32
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for _ in range(2):  # context along the row: each column sees about 1.5 glyphs either side
        y = layers.Conv2D(112, (1, 5), padding="same", use_bias=False)(x)
        y = layers.BatchNormalization()(y)
        x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.Dropout(0.15)(x)
    logits = layers.Conv2D(len(ALPHABET) + 1, 1, name="logits")(x)
    out = layers.Reshape((READER_W // 4, len(ALPHABET) + 1), name="columns")(logits)
    _ = tf
    return keras.Model(inp, out, name="plate_reader")


def greedy(logits: np.ndarray) -> list[str]:
    best = logits.argmax(axis=-1)
    out = []
    for row in best:
        chars, prev = [], 0
        for k in row:
            if k not in (prev, 0):
                chars.append(ALPHABET[k - 1])
            prev = int(k)
        out.append("".join(chars))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=int(os.environ.get("READER_SAMPLES", "60000")))
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("READER_EPOCHS", "3")))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--cache", type=Path, default=Path("build/models-cache"))
    args = parser.parse_args(argv)

    import tensorflow as tf

    limit_threads(tf)
    tf.keras.utils.set_random_seed(args.seed)
    recipe = {"kind": "reader", "version": RECIPE_VERSION}
    train = generate("reader-train", make_reader_samples, args.samples, args.seed, args.cache, recipe)
    val = generate("reader-val", make_reader_samples, 2000, args.seed + 1, args.cache, recipe)

    # The native CTC kernel refuses empty labels: the clutter samples (label "") only serve the validation.
    keep = train["lengths"] > 0
    train = {k: v[keep] for k, v in train.items()}
    model = build_model()
    steps_per_epoch = len(train["images"]) // args.batch
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        2e-3, decay_steps=steps_per_epoch * args.epochs, alpha=0.02
    )
    optimizer = tf.keras.optimizers.Adam(schedule)
    t_len = READER_W // 4

    @tf.function(jit_compile=False)
    def step(images, labels, lengths):  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.nn.ctc_loss(
                labels=tf.sparse.from_dense(labels),
                logits=logits,
                label_length=None,
                logit_length=tf.fill([tf.shape(images)[0]], t_len),
                logits_time_major=False,
                blank_index=0,
            )
            loss = tf.reduce_mean(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    n = len(train["images"])
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    total_steps = steps_per_epoch * args.epochs
    done = 0
    for epoch in range(args.epochs):
        order = rng.permutation(n)
        losses = []
        for b in range(steps_per_epoch):
            idx = order[b * args.batch : (b + 1) * args.batch]
            loss = step(
                tf.constant(train["images"][idx][..., None]),
                tf.constant(train["labels"][idx]),
                tf.constant(train["lengths"][idx]),
            )
            losses.append(float(loss))
            done += 1
            if done % 50 == 0 or done == total_steps:
                progress(
                    f"reader epoch {epoch + 1}/{args.epochs} loss {np.mean(losses[-50:]):.3f}",
                    done,
                    total_steps,
                    started,
                )
        acc = accuracy(model, val)
        print(
            f"\nepoch {epoch + 1}: loss {np.mean(losses):.3f} synthetic val exact {acc:.3f}", file=sys.stderr
        )

    export(model, val, args.out, acc, args, time.monotonic() - started)
    return 0


def accuracy(model, val: dict[str, np.ndarray]) -> float:  # type: ignore[no-untyped-def]
    logits = model.predict(val["images"][..., None], batch_size=256, verbose=0)
    reads = greedy(logits)
    truth = [
        "".join(ALPHABET[k - 1] for k in row[:n])
        for row, n in zip(val["labels"], val["lengths"], strict=True)
    ]
    return float(np.mean([r == t for r, t in zip(reads, truth, strict=True)]))


def export(
    model, val: dict[str, np.ndarray], out: Path, acc: float, args: argparse.Namespace, train_s: float
) -> None:  # type: ignore[no-untyped-def]
    from models.training.export import convert, update_manifest

    saved = args.cache / "reader_savedmodel"
    model.export(str(saved))

    def representative():  # type: ignore[no-untyped-def]
        for i in range(0, 300):
            yield [val["images"][i : i + 1, ..., None].astype(np.float32)]

    files = convert(saved, out, "plate_reader", representative)
    entry = update_manifest(
        out,
        "reader",
        files,
        {
            "task": "plate text, CTC over 32 columns",
            "input": {"shape": [1, READER_H, READER_W, 1], "dtype": "float32", "range": "0..255 grey"},
            "alphabet": ALPHABET,
            "blank_index": 0,
            "training": {
                "samples": args.samples,
                "epochs": args.epochs,
                "batch": args.batch,
                "seed": args.seed,
                "recipe_version": RECIPE_VERSION,
                "seconds": round(train_s),
                "synthetic_val_exact": round(acc, 4),
            },
        },
    )
    print(json.dumps(entry, indent=2), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
