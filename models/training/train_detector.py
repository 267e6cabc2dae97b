"""Train the plate detector: a small fully convolutional network that marks plate pixels at 1/4 resolution.

    python -m models.training.train_detector [--samples N] [--epochs E] [--out models/]

Data: ``scenes.scene`` only (procedural vehicles and the synthetic street camera). The network takes a BGR
image of any size that is a multiple of 32 and returns, per 4 x 4 block, the probability that it lies on a
plate; ``edge.anpr.detector`` turns that map into plate boxes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from edge.anpr.preprocess import DETECTOR_STRIDE
from models.training import scenes
from models.training.dataset import generate, limit_threads, progress

RECIPE_VERSION = 6
"""6: recipe 5 trained 6 epochs instead of 4. 5: recipe 3 with street crops that no longer depend on the
order a worker rendered them in (the street renderer replays its traffic for an earlier frame); 4 was
dropped."""
CROP_W, CROP_H = 160, 128
EXPORT_H, EXPORT_W = 288, 384
"""The input size the SavedModel is exported with. The TFLite model still takes any multiple of 32 (the
runtime resizes it): a fixed size only lets the converter turn the dilated convolution into one CONV_2D.
Exported with a dynamic size it becomes SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND with padding computed at run
time (SHAPE, FLOOR_MOD, PACK ...), which XNNPACK does not take: the graph splits into three delegate
partitions around reference kernels."""
_DYNAMIC_SHAPE_OPS = {"SHAPE", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"}


def make_detector_samples(seed: int, count: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = np.zeros((count, scenes.SCENE_H, scenes.SCENE_W, 3), np.uint8)
    masks = np.zeros((count, scenes.SCENE_H // DETECTOR_STRIDE, scenes.SCENE_W // DETECTOR_STRIDE), np.uint8)
    for i in range(count):
        images[i], masks[i] = scenes.scene(rng)
    return {"images": images, "masks": masks}


def build_model():  # type: ignore[no-untyped-def]
    import tensorflow as tf
    from tensorflow import keras
    from tensorflow.keras import layers

    def upsample(x):  # type: ignore[no-untyped-def]
        # Nearest-neighbour x2 as DEPTH_TO_SPACE of four copies: unlike RESIZE_NEAREST_NEIGHBOR it carries no
        # fixed output size, so the TFLite model accepts any input size.
        return layers.Lambda(lambda t: tf.nn.depth_to_space(tf.concat([t, t, t, t], axis=-1), 2))(x)

    def conv(x, filters, stride=1, dilation=1):  # type: ignore[no-untyped-def]
        x = layers.Conv2D(filters, 3, strides=stride, dilation_rate=dilation, padding="same", use_bias=False)(
            x
        )
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inp = keras.Input((None, None, 3), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inp)
    s2 = conv(x, 12, 2)
    s4 = conv(conv(s2, 24, 2), 24)
    s8 = conv(conv(s4, 32, 2), 32)
    s16 = conv(conv(s8, 48, 2), 48, dilation=2)
    s32 = conv(conv(s16, 64, 2), 64)
    up = upsample(s32)
    x = conv(layers.Concatenate()([up, s16]), 48)
    up = upsample(x)
    x = conv(layers.Concatenate()([up, s8]), 32)
    up = upsample(x)
    x = conv(layers.Concatenate()([up, s4]), 24)
    out = layers.Conv2D(1, 1, activation="sigmoid", name="plate")(x)
    return keras.Model(inp, out, name="plate_detector")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=int(os.environ.get("DETECTOR_SAMPLES", "20000")))
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("DETECTOR_EPOCHS", "6")))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--cache", type=Path, default=Path("build/models-cache"))
    args = parser.parse_args(argv)

    import tensorflow as tf

    limit_threads(tf)
    tf.keras.utils.set_random_seed(args.seed)
    recipe = {"kind": "detector", "version": RECIPE_VERSION}
    train = generate(
        "detector-train", make_detector_samples, args.samples, args.seed, args.cache, recipe, chunk=250
    )
    val = generate("detector-val", make_detector_samples, 500, args.seed + 1, args.cache, recipe, chunk=250)

    model = build_model()
    steps_per_epoch = args.samples // args.batch
    total_steps = steps_per_epoch * args.epochs
    schedule = tf.keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=total_steps, alpha=0.02)
    optimizer = tf.keras.optimizers.Adam(schedule)

    @tf.function
    def step(images, masks):  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            prob = model(images, training=True)[..., 0]
            target = tf.cast(masks, tf.float32)
            bce = tf.reduce_mean(tf.keras.losses.binary_crossentropy(target[..., None], prob[..., None]))
            inter = tf.reduce_sum(prob * target, axis=[1, 2])
            dice = 1.0 - (2.0 * inter + 1.0) / (
                tf.reduce_sum(prob, axis=[1, 2]) + tf.reduce_sum(target, axis=[1, 2]) + 1.0
            )
            loss = bce * 4.0 + tf.reduce_mean(dice)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    n = len(train["images"])
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    done = 0
    f1 = 0.0
    for epoch in range(args.epochs):
        order = rng.permutation(n)
        losses = []
        for b in range(steps_per_epoch):
            idx = np.sort(order[b * args.batch : (b + 1) * args.batch])
            # A random 160 x 128 window of each batch: a fully convolutional network learns the same from
            # windows as from whole scenes, at 40 % of the cost.
            y0 = int(rng.integers(0, (scenes.SCENE_H - CROP_H) // DETECTOR_STRIDE + 1)) * DETECTOR_STRIDE
            x0 = int(rng.integers(0, (scenes.SCENE_W - CROP_W) // DETECTOR_STRIDE + 1)) * DETECTOR_STRIDE
            images = train["images"][idx, y0 : y0 + CROP_H, x0 : x0 + CROP_W]
            masks = train["masks"][
                idx,
                y0 // DETECTOR_STRIDE : (y0 + CROP_H) // DETECTOR_STRIDE,
                x0 // DETECTOR_STRIDE : (x0 + CROP_W) // DETECTOR_STRIDE,
            ]
            losses.append(float(step(tf.constant(images), tf.constant(masks))))
            done += 1
            if done % 20 == 0 or done == total_steps:
                progress(
                    f"detector epoch {epoch + 1}/{args.epochs} loss {np.mean(losses[-20:]):.3f}",
                    done,
                    total_steps,
                    started,
                )
        f1 = pixel_f1(model, val)
        print(
            f"\nepoch {epoch + 1}: loss {np.mean(losses):.3f} synthetic val pixel F1 {f1:.3f}",
            file=sys.stderr,
        )

    export(model, val, args.out, f1, args, time.monotonic() - started)
    return 0


def pixel_f1(model, val: dict[str, np.ndarray]) -> float:  # type: ignore[no-untyped-def]
    prob = model.predict(val["images"], batch_size=64, verbose=0)[..., 0]
    pred, truth = prob > 0.5, val["masks"] > 0
    tp = float(np.sum(pred & truth))
    return 2 * tp / max(float(pred.sum() + truth.sum()), 1.0)


def export(
    model, val: dict[str, np.ndarray], out: Path, f1: float, args: argparse.Namespace, train_s: float
) -> None:  # type: ignore[no-untyped-def]
    import tensorflow as tf

    from models.training.export import convert, update_manifest

    saved = args.cache / "detector_savedmodel"
    model.export(
        str(saved), input_signature=[tf.TensorSpec([1, EXPORT_H, EXPORT_W, 3], tf.float32, name="image")]
    )

    def representative():  # type: ignore[no-untyped-def]
        for i in range(0, 200):
            yield [val["images"][i : i + 1].astype(np.float32)]

    files = convert(saved, out, "plate_detector", representative)
    for path in files.values():
        ops = {op["op_name"] for op in tf.lite.Interpreter(model_path=str(path))._get_ops_details()}
        if ops & _DYNAMIC_SHAPE_OPS:
            raise SystemExit(
                f"{path}: run-time shape arithmetic left in the graph: {sorted(ops & _DYNAMIC_SHAPE_OPS)}"
            )
    entry = update_manifest(
        out,
        "detector",
        files,
        {
            "task": "plate pixels at 1/4 resolution (sigmoid)",
            "input": {"shape": [1, -1, -1, 3], "dtype": "float32", "range": "0..255 BGR", "multiple": 32},
            "stride": DETECTOR_STRIDE,
            "training": {
                "samples": args.samples,
                "epochs": args.epochs,
                "batch": args.batch,
                "seed": args.seed,
                "recipe_version": RECIPE_VERSION,
                "seconds": round(train_s),
                "synthetic_val_pixel_f1": round(f1, 4),
            },
        },
    )
    print(json.dumps(entry, indent=2), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
