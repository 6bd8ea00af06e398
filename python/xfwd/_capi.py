"""_capi.py — libxfwd through ctypes: finding and loading the shared library, the C
structs of include/xfwd.h (field for field, in order) and the function signatures.

ctypes releases the GIL for the whole of every call into a CDLL, so a forward in one
thread lets other Python threads run (and other Models compute) meanwhile.

Functions are bound on first use: a library older than this package that lacks one
makes only the methods that need it fail (with xfwd.Error, XF_ERR_UNSUPPORTED)."""
import ctypes
import ctypes.util
import os

# The SONAME of the library this package was written against (0.x: a minor version
# may change the ABI), then the development link as a fallback.
_NAMES = ("libxfwd.so.0.1", "libxfwd.so")

XF_OK = 0
XF_ERR_INVALID_ARG = 1
XF_ERR_UNSUPPORTED = 4
XF_ERR_NO_DEVICE = 6
STATUS_NAMES = ("XF_OK", "XF_ERR_INVALID_ARG", "XF_ERR_IO", "XF_ERR_FORMAT", "XF_ERR_UNSUPPORTED",
                "XF_ERR_NO_MEMORY", "XF_ERR_NO_DEVICE", "XF_ERR_DEVICE", "XF_ERR_INTERNAL")

BACKENDS = {"auto": 0, "cpu": 1, "cpu_ref": 2, "cuda": 3, "vulkan": 4}
DTYPES = {"f32": 0, "tf32": 1, "bf16": 2, "f16": 3}
POOLINGS = {"last": 0, "mean": 1, "first": 2, "cls": 2, "max": 3, "mean_sqrt_len": 4}
TRUNCATES = {None: 0, "none": 0, "right": 1, "left": 2}
ARCHS = ("llama", "qwen2", "qwen3", "mistral")

i32p = ctypes.POINTER(ctypes.c_int32)
c_char_pp = ctypes.POINTER(ctypes.c_char_p)


class ModelInfo(ctypes.Structure):  # xf_model_info
    _fields_ = [
        ("arch", ctypes.c_int),
        ("model_type", ctypes.c_char_p),
        ("architecture", ctypes.c_char_p),
        ("hidden_size", ctypes.c_int32),
        ("intermediate_size", ctypes.c_int32),
        ("n_layers", ctypes.c_int32),
        ("n_heads", ctypes.c_int32),
        ("n_kv_heads", ctypes.c_int32),
        ("head_dim", ctypes.c_int32),
        ("vocab_size", ctypes.c_int32),
        ("max_position", ctypes.c_int32),
        ("rms_norm_eps", ctypes.c_double),
        ("rope_theta", ctypes.c_double),
        ("tied_embeddings", ctypes.c_int32),
        ("has_lm_head", ctypes.c_int32),
        ("num_labels", ctypes.c_int32),
        ("labels", c_char_pp),
        ("weight_dtype", ctypes.c_char_p),
        ("n_params", ctypes.c_int64),
        ("causal", ctypes.c_int32),
        ("sliding_window", ctypes.c_int32),
        ("pad_token_id", ctypes.c_int32),
        ("embed_dim", ctypes.c_int32),
        ("default_pooling", ctypes.c_int32),
        ("default_normalize", ctypes.c_int32),
        ("include_prompt", ctypes.c_int32),
        ("n_dense", ctypes.c_int32),
        ("max_seq_length", ctypes.c_int32),
        ("default_prompt_name", ctypes.c_char_p),
    ]


class EngineOptions(ctypes.Structure):  # xf_engine_options
    _fields_ = [
        ("backend", ctypes.c_int),
        ("dtype", ctypes.c_int),
        ("max_tokens", ctypes.c_int32),
        ("n_threads", ctypes.c_int32),
        ("adapters", ctypes.POINTER(ctypes.c_void_p)),
        ("n_adapters", ctypes.c_int32),
        ("merge_adapters", ctypes.c_int32),
        ("cache_dir", ctypes.c_char_p),
        ("device", ctypes.c_int32),
    ]


class Batch(ctypes.Structure):  # xf_batch
    _fields_ = [
        ("tokens", i32p),        # [n_tokens]
        ("seq_lens", i32p),      # [n_seqs]
        ("n_seqs", ctypes.c_int32),
        ("adapter_ids", i32p),   # [n_seqs] or NULL
    ]


class EncodeOptions(ctypes.Structure):  # xf_encode_options
    _fields_ = [
        ("pooling", ctypes.c_int32),
        ("normalize", ctypes.c_int32),
        ("dimensions", ctypes.c_int32),
        ("prompt_lens", i32p),   # [n_seqs] or NULL
    ]


class TextOptions(ctypes.Structure):  # xf_text_options
    _fields_ = [
        ("prompt", ctypes.c_char_p),
        ("add_special", ctypes.c_int32),
        ("truncate", ctypes.c_int32),
        ("max_length", ctypes.c_int32),
    ]


class Tokens(ctypes.Structure):  # xf_tokens (arrays owned by the library)
    _fields_ = [
        ("tokens", i32p),        # [n_tokens]
        ("seq_lens", i32p),      # [n_seqs]
        ("prompt_lens", i32p),   # [n_seqs]
        ("n_seqs", ctypes.c_int32),
        ("n_tokens", ctypes.c_int64),
    ]


class RerankOptions(ctypes.Structure):  # xf_rerank_options
    _fields_ = [
        ("prefix", ctypes.c_char_p),
        ("suffix", ctypes.c_char_p),
        ("instruction", ctypes.c_char_p),
        ("yes_token", ctypes.c_char_p),
        ("no_token", ctypes.c_char_p),
        ("raw_scores", ctypes.c_int32),
        ("truncate", ctypes.c_int32),
    ]


P = ctypes.c_void_p
fp = ctypes.POINTER(ctypes.c_float)
st = ctypes.c_int  # xf_status
# name: (restype, argtypes)
_SIGNATURES = {
    "xf_last_error": (ctypes.c_char_p, []),
    "xf_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "xf_model_open": (st, [ctypes.c_char_p, ctypes.POINTER(P)]),
    "xf_model_get_info": (st, [P, ctypes.POINTER(ModelInfo)]),
    "xf_model_free": (None, [P]),
    "xf_model_auto_dtype": (ctypes.c_int, [P, ctypes.c_int]),
    "xf_model_prompt": (st, [P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]),
    "xf_adapter_open": (st, [P, ctypes.c_char_p, ctypes.POINTER(P)]),
    "xf_adapter_free": (None, [P]),
    "xf_engine_options_init": (None, [ctypes.POINTER(EngineOptions)]),
    "xf_engine_create": (st, [P, ctypes.POINTER(EngineOptions), ctypes.POINTER(P)]),
    "xf_engine_free": (None, [P]),
    "xf_engine_backend": (ctypes.c_int, [P]),
    "xf_engine_peak_memory": (ctypes.c_size_t, [P]),
    "xf_engine_describe": (st, [P, ctypes.POINTER(ctypes.c_void_p)]),
    "xf_engine_hidden": (st, [P, ctypes.POINTER(Batch), fp]),
    "xf_engine_logits": (st, [P, ctypes.POINTER(Batch), fp]),
    "xf_engine_embed": (st, [P, ctypes.POINTER(Batch), ctypes.c_int, ctypes.c_int, fp]),
    "xf_engine_classify": (st, [P, ctypes.POINTER(Batch), fp]),
    "xf_encode_options_init": (None, [ctypes.POINTER(EncodeOptions)]),
    "xf_engine_encode": (st, [P, ctypes.POINTER(Batch), ctypes.POINTER(EncodeOptions), fp]),
    "xf_engine_last_logits": (st, [P, ctypes.POINTER(Batch), i32p, ctypes.c_int32, fp]),
    "xf_tokenizer_open": (st, [ctypes.c_char_p, ctypes.POINTER(P)]),
    "xf_tokenizer_free": (None, [P]),
    "xf_tokenizer_decode": (st, [P, i32p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p),
                                 ctypes.POINTER(ctypes.c_size_t)]),
    "xf_tokenizer_token_id": (ctypes.c_int32, [P, ctypes.c_char_p]),
    "xf_text_options_init": (None, [ctypes.POINTER(TextOptions)]),
    "xf_tokenize_texts": (st, [P, P, c_char_pp, c_char_pp, ctypes.c_int32, ctypes.POINTER(TextOptions),
                               ctypes.POINTER(Tokens)]),
    "xf_tokens_free": (None, [ctypes.POINTER(Tokens)]),
    "xf_rerank_options_init": (None, [ctypes.POINTER(RerankOptions)]),
    "xf_engine_rerank": (st, [P, P, ctypes.c_char_p, c_char_pp, ctypes.c_int32,
                              ctypes.POINTER(RerankOptions), fp]),
}


def _load():
    """The shared library: from $XFWD_LIBRARY_DIR when set, else wherever the
    dynamic loader finds it (LD_LIBRARY_PATH, the ld.so cache, /usr/lib...)."""
    where = os.environ.get("XFWD_LIBRARY_DIR")
    tried = []
    if where:
        for n in _NAMES:
            path = os.path.join(where, n)
            if os.path.exists(path):
                return ctypes.CDLL(path), path
            tried.append(path)
        raise ImportError(f"xfwd: XFWD_LIBRARY_DIR={where} holds none of {', '.join(_NAMES)}")
    for n in _NAMES:
        try:
            return ctypes.CDLL(n), n
        except OSError as e:
            tried.append(f"{n} ({e})")
    found = ctypes.util.find_library("xfwd")
    if found:
        return ctypes.CDLL(found), found
    raise ImportError("xfwd: cannot load libxfwd (install it with `cmake --install`, or set XFWD_LIBRARY_DIR "
                      "to the folder that holds libxfwd.so); tried " + "; ".join(tried))


lib, lib_path = _load()
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]
_libc.free.restype = None
_bound = {}


def has(name):
    """Whether the loaded library has the function `name`."""
    return hasattr(lib, name)


def fn(name):
    """The C function `name` with its signature; xfwd.Error if the library lacks it."""
    f = _bound.get(name)
    if f is None:
        if not has(name):
            from ._errors import Error
            raise Error(f"{lib_path} has no {name} (a libxfwd older than this package)", XF_ERR_UNSUPPORTED)
        f = getattr(lib, name)
        f.restype, f.argtypes = _SIGNATURES[name]
        _bound[name] = f
    return f


def free(ptr):
    """Releases memory the library malloc'ed for the caller."""
    _libc.free(ptr)
