"""seegaan.explain: explain a user's CNN with SEE-GAAN sequences, the lambda search and Captum maps.

    load_model(spec, adapter)         any model form -> ExplainableModel (predict / score)
    InputAdapter                      size, value range, channels, output, log transform
    attribute(model, images)          Captum saliency, Grad-CAM, Integrated Gradients, SmoothGrad
    search_lambda(f, target)          bracket + bisect, forward calls only
    lambda_for_patient(model, ae, ...)  the same on G(w_E + lambda * d)
    select_cases(truth, pred, thr)    one TP, TN, FP, FN
    predict_latents / predict_dataset / merge_predictions_csv
    explain(checkpoint, latents, out) the whole `seegaan explain` run
    train_cnn(data_dir, out)          the reference ResNet regressing log BNPP

Example::

    from seegaan.explain import load_model, attribute
    model = load_model("runs/cnn")
    maps = attribute(model, images)          # {"saliency": (N, 1, S, S), ...}
"""

from seegaan.explain.adapter import InputAdapter
from seegaan.explain.attribution import METHODS, AttributionSettings, attribute
from seegaan.explain.lambda_search import LambdaResult, lambda_for_patient, search_lambda
from seegaan.explain.loading import ExplainableModel, load_model
from seegaan.explain.pipeline import ExplainConfig, explain
from seegaan.explain.predict import (
    TableImages,
    merge_predictions_csv,
    predict_dataset,
    predict_latents,
)
from seegaan.explain.selection import categorise, select_cases
from seegaan.explain.train_cnn import CNNTrainConfig, train_cnn

__all__ = ["METHODS", "AttributionSettings", "CNNTrainConfig", "ExplainConfig", "ExplainableModel",
           "InputAdapter", "LambdaResult", "TableImages", "attribute", "categorise", "explain",
           "lambda_for_patient", "load_model", "merge_predictions_csv", "predict_dataset",
           "predict_latents", "search_lambda", "select_cases", "train_cnn"]
