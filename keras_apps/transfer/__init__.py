"""Transfer learning: new heads, fine-tuning, per-layer learning rates,
checkpoints, feature extraction, augmentation and training on several
workers."""

from keras_apps.transfer.augment import augment_dataset, build_augmenter
from keras_apps.transfer.backbones import export_hub_module, load_backbone
from keras_apps.transfer.checkpoint import CheckpointReport, load_from_checkpoint
from keras_apps.transfer.classifier import build_classifier
from keras_apps.transfer.feature_extractor import feature_extractor, preset_layers
from keras_apps.transfer.features import extract_features
from keras_apps.transfer.finetune import unfreeze
from keras_apps.transfer.learning_rates import (
    LayerwiseLearningRateOptimizer,
    layerwise_learning_rates,
)
from keras_apps.transfer.multi_worker import multi_worker_mirrored_strategy

__all__ = [
    "CheckpointReport",
    "LayerwiseLearningRateOptimizer",
    "augment_dataset",
    "build_augmenter",
    "build_classifier",
    "export_hub_module",
    "extract_features",
    "feature_extractor",
    "layerwise_learning_rates",
    "load_backbone",
    "load_from_checkpoint",
    "multi_worker_mirrored_strategy",
    "preset_layers",
    "unfreeze",
]
