"""seegaan.medxgan: medXGAN (Dravid et al. 2022), a class-conditional GAN that explains a binary classifier.

    MedXGANGenerator / MedXGANDiscriminator   G(z1, z2) and D (networks.py)
    PositiveClass                             the frozen classifier C as P(positive) (classifier.py)
    MedXGANTrainer / train_medxgan            training against C (train.py)
    load_medxgan(path | None)                 a checkpoint; None = the bundled 64 x 64 one
    invert / explain_film                     inversion with restarts; sequence and LIG of one film
    evaluate_medxgan                          the paper's evaluations, with CIs

Example::

    from seegaan.explain import load_model
    from seegaan.medxgan import classifier_for, explain_film, load_medxgan

    G, info = load_medxgan(None)
    C, exact = classifier_for(load_model("seegaan-demo/cnn"), info)
    res = explain_film(G, C, film)          # res.lig, res.sequence.frames, res.inversion
"""

from seegaan.medxgan.checkpoint import load_medxgan
from seegaan.medxgan.classifier import PositiveClass
from seegaan.medxgan.config import ClassifierSpec, MedXGANModelConfig, MedXGANTrainConfig
from seegaan.medxgan.explainer import ExplainSettings, classifier_for, explain_film
from seegaan.medxgan.invert import InversionSettings, invert
from seegaan.medxgan.lig import class_sequence, latent_integrated_gradients
from seegaan.medxgan.networks import MedXGANDiscriminator, MedXGANGenerator

__all__ = ["ClassifierSpec", "ExplainSettings", "InversionSettings", "MedXGANDiscriminator",
           "MedXGANGenerator", "MedXGANModelConfig", "MedXGANTrainConfig", "PositiveClass",
           "class_sequence", "classifier_for", "explain_film", "invert", "latent_integrated_gradients",
           "load_medxgan"]
