"""Serving: models answer requests (the inference server) and score files in batches.

from loopml.serving import predict_file
predict_file("models:/pricing@champion", "day.parquet", "preds.parquet")
"""

from loopml.serving.batch import BatchResult, predict_file

__all__ = ["BatchResult", "predict_file"]
