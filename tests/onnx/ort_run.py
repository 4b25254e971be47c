"""Runs an ONNX model on onnxruntime: ort_run.py MODEL.onnx OUT.npy [NAME=IN.npy ...]
(inputs in graph order when NAME= is left out). Writes the first output."""
import sys

import numpy as np
import onnxruntime as ort

sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
names = [i.name for i in sess.get_inputs()]
feeds = {}
for k, a in enumerate(sys.argv[3:]):
    name, _, path = a.rpartition("=")
    feeds[name or names[k]] = np.load(path)
np.save(sys.argv[2], sess.run(None, feeds)[0])
