"""``keras.layers``: Layer, Dense, Activation, Flatten, Dropout, Masking, InputLayer, Input, the
merge layers (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum), the
activation layers (ReLU, LeakyReLU, ELU, Softmax, PReLU), and the convolution, pooling,
reshaping, normalization, embedding, attention (with EinsumDense), regularization (noise,
spatial dropout), preprocessing, image preprocessing, augmentation and wrapper
(TimeDistributed) families (a module each). Keras's other names for some classes
(``MaxPool2D``, ``Convolution2D``, ...) are the same classes, and load from files too.

Layers serialise as ``{"class_name": ..., "config": ...}`` (:func:`serialize`) and come
back through :data:`REGISTRY` (:func:`deserialize`), where models register too, so that a
model can hold another."""

from ...errors import MissingNameError
from .._registry import Registry, serialize
from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .core import (Activation, Dropout, Flatten, Identity, Input, InputLayer, Lambda,
                   Masking,
                   TFOpLambda)
from .core import op_on_symbolic as _op_on_symbolic
from ...ops._convert import register_symbolic as _register_symbolic
from .dense import Dense
from .einsum_dense import EinsumDense
from .attention import AdditiveAttention, Attention, MultiHeadAttention
from .keras_tensor import KerasTensor
from .layer import Layer
from .merge import (Add, Average, Concatenate, Dot, dot, Maximum, Minimum, Multiply, Subtract, add,
                    average, concatenate, maximum, minimum, multiply, subtract)
from .convolutional import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D,
                            Conv3DTranspose,
                            DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D)
from .embedding import Embedding
from .augmentation import (RandomContrast, RandomFlip, RandomRotation, RandomTranslation,
                           RandomZoom)
from .normalization import (BatchNormalization, GroupNormalization, LayerNormalization,
                            RMSNormalization, UnitNormalization)
from .pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                      GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, MaxPooling1D,
                      MaxPooling2D, MaxPooling3D)
from .preprocessing import CategoryEncoding, Discretization, Normalization, Rescaling
from . import wrappers as _wrappers
from .wrappers import TimeDistributed
from .image_preprocessing import CenterCrop, RandomBrightness, RandomCrop, Resizing
from .reshaping import (Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector, Reshape,
                        UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D,
                        ZeroPadding3D)
from .regularization import (ActivityRegularization, AlphaDropout, GaussianDropout,
                             GaussianNoise, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)

_CONVNET_LAYERS = [
    Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose, MaxPooling1D, MaxPooling2D,
    MaxPooling3D, AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    GlobalMaxPooling3D, Reshape, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D,
    Rescaling, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
    BatchNormalization, Embedding, RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
    RandomContrast]

_NEW_LAYERS = [
    LayerNormalization, GroupNormalization, RMSNormalization, UnitNormalization, Normalization,
    EinsumDense, MultiHeadAttention, Attention, AdditiveAttention, Identity, Permute,
    RepeatVector, Cropping1D, Cropping2D, Cropping3D, ZeroPadding3D, UpSampling3D, GaussianNoise,
    GaussianDropout, AlphaDropout, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,
    ActivityRegularization, Dot, Resizing, CenterCrop, RandomCrop, RandomBrightness,
    TimeDistributed, CategoryEncoding, Conv3DTranspose, Discretization]

# Keras's other names for the same classes (a file naming either loads)
_ALIASES = {"MaxPool1D": MaxPooling1D, "MaxPool2D": MaxPooling2D, "MaxPool3D": MaxPooling3D,
            "AvgPool1D": AveragePooling1D, "AvgPool2D": AveragePooling2D,
            "AvgPool3D": AveragePooling3D, "GlobalAvgPool1D": GlobalAveragePooling1D,
            "GlobalAvgPool2D": GlobalAveragePooling2D, "GlobalAvgPool3D": GlobalAveragePooling3D,
            "GlobalMaxPool1D": GlobalMaxPooling1D, "GlobalMaxPool2D": GlobalMaxPooling2D,
            "GlobalMaxPool3D": GlobalMaxPooling3D, "Convolution1D": Conv1D,
            "Convolution2D": Conv2D, "Convolution3D": Conv3D,
            "Convolution1DTranspose": Conv1DTranspose, "Convolution2DTranspose": Conv2DTranspose,
            "Convolution3DTranspose": Conv3DTranspose,
            "SeparableConvolution1D": SeparableConv1D, "SeparableConvolution2D": SeparableConv2D}
globals().update(_ALIASES)

__all__ = ["Layer", "Dense", "Activation", "Flatten", "Dropout", "Masking", "Lambda", "TFOpLambda", "InputLayer", "Input",
           "KerasTensor", "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum",
           "Minimum", "concatenate", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "dot", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU", "get", "serialize",
           "deserialize"] + [c.__name__ for c in _CONVNET_LAYERS + _NEW_LAYERS] + list(_ALIASES)

REGISTRY = Registry("layer")
for _cls in (Dense, Activation, Flatten, Dropout, Masking, Lambda, TFOpLambda, InputLayer, Concatenate, Add, Subtract,
             Multiply, Average, Maximum, Minimum, ReLU, LeakyReLU, ELU, Softmax, PReLU,
             *_CONVNET_LAYERS, *_NEW_LAYERS):
    REGISTRY.register(_cls)
for _alias, _cls in _ALIASES.items():
    REGISTRY.classes[_alias] = _cls

# chainrule ops called on KerasTensors record TFOpLambda nodes (the core's hook)
_register_symbolic((KerasTensor,), _op_on_symbolic)


def deserialize(config, custom_objects=None):
    """The layer a :func:`serialize` dict describes (``custom_objects`` adds own classes)."""
    try:
        return REGISTRY.deserialize(config, custom_objects)
    except (ValueError, TypeError) as e:
        if type(e) not in (ValueError, TypeError):
            raise
        name = (config.get("config") or {}).get("name") if isinstance(config, dict) else None
        if not name or f"'{name}'" in str(e):
            raise
        raise type(e)(f"layer '{name}' ({config.get('class_name')}): {e}") from None


get = deserialize
_wrappers.deserialize_layer = deserialize


# Keras 3's layer names, so that one chainrule lacks says so (see __getattr__).
KERAS_LAYERS = frozenset("""
Activation ActivityRegularization AdaptiveAveragePooling1D AdaptiveAveragePooling2D
AdaptiveAveragePooling3D AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D Add
AdditiveAttention AlphaDropout Attention AugMix AutoContrast Average AveragePooling1D
AveragePooling2D AveragePooling3D AvgPool1D AvgPool2D AvgPool3D BatchNormalization
Bidirectional CategoryEncoding CenterCrop Concatenate
ContrastLimitedAdaptiveHistogramEqualization Conv1D Conv1DTranspose Conv2D Conv2DTranspose
Conv3D Conv3DTranspose ConvLSTM1D ConvLSTM2D ConvLSTM3D Convolution1D Convolution1DTranspose
Convolution2D Convolution2DTranspose Convolution3D Convolution3DTranspose Cropping1D
Cropping2D Cropping3D CutMix Dense DepthwiseConv1D DepthwiseConv2D Discretization Dot Dropout
ELU EinsumDense Embedding Equalization Flatten FlaxLayer GRU GRUCell GaussianDropout
GaussianNoise GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D
GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D GlobalMaxPool1D GlobalMaxPool2D
GlobalMaxPool3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GroupNormalization
GroupQueryAttention HashedCrossing Hashing Identity Input InputLayer InputSpec IntegerLookup
JaxLayer LSTM LSTMCell Lambda Layer LayerNormalization LeakyReLU Masking MaxNumBoundingBoxes
MaxPool1D MaxPool2D MaxPool3D MaxPooling1D MaxPooling2D MaxPooling3D Maximum MelSpectrogram
Minimum MixUp MultiHeadAttention Multiply Normalization PReLU Permute Pipeline
RMSNormalization RNN RandAugment RandomBrightness RandomColorDegeneration RandomColorJitter
RandomContrast RandomCrop RandomElasticTransform RandomErasing RandomFlip RandomGaussianBlur
RandomGrayscale RandomHue RandomInvert RandomPerspective RandomPosterization RandomRotation
RandomSaturation RandomSharpness RandomShear RandomTranslation RandomZoom ReLU RepeatVector
Rescaling Reshape Resizing ReversibleEmbedding STFTSpectrogram SeparableConv1D
SeparableConv2D SeparableConvolution1D SeparableConvolution2D SimpleRNN SimpleRNNCell Softmax
Solarization SpatialDropout1D SpatialDropout2D SpatialDropout3D SpectralNormalization
StackedRNNCells StringLookup Subtract TFSMLayer TernaryDense TextVectorization
TimeDistributed TorchModuleWrapper UnitNormalization UpSampling1D UpSampling2D UpSampling3D
Wrapper ZeroPadding1D ZeroPadding2D ZeroPadding3D add average concatenate deserialize dot
maximum minimum multiply serialize subtract
""".split())


def __getattr__(name):
    # Only reached for a name this module lacks: `layers.LSTM` says what it is and what exists.
    raise MissingNameError(__name__, name, "Keras layer" if name in KERAS_LAYERS else None,
                           __all__)
