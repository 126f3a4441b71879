"""seegaan.latent: the latent table, latent paths and SEE-GAAN sequences.

    encode_dataset / encode_to_file   prepared dataset -> LatentTable (Parquet)
    global_sequence / local_sequence  LatentTable + autoencoder -> SequenceResult
    permutation_test                  per-pixel p-values for any path builder
    write_sequence                    SequenceResult -> SEQ_DIR (figures, GIF, npz, json)
"""

from seegaan.latent.encode import encode_dataset, encode_to_file
from seegaan.latent.paths import GroupMeanPath, LocalPath, RegressionPath
from seegaan.latent.protocol import Autoencoder, decode_latents, encode_images
from seegaan.latent.select import Selection, select_rows
from seegaan.latent.sequence import (
    PermutationResult,
    SequenceResult,
    check_compatible,
    global_sequence,
    local_sequence,
    permutation_test,
    write_sequence,
)
from seegaan.latent.store import LatentTable, load_latents, save_latents

__all__ = ["Autoencoder", "GroupMeanPath", "LatentTable", "LocalPath", "PermutationResult",
           "RegressionPath", "Selection", "SequenceResult", "check_compatible", "decode_latents",
           "encode_dataset", "encode_images", "encode_to_file", "global_sequence",
           "load_latents", "local_sequence", "permutation_test", "save_latents", "select_rows",
           "write_sequence"]
