"""xfwd — transformer forward passes (Llama, Qwen2, Qwen3, Mistral) from Hugging Face
folders on CPU, CUDA and Vulkan, through libxfwd's C API (ctypes; numpy in and out).

    import xfwd
    with xfwd.Model("Qwen3-Embedding-0.6B") as m:
        v = m.embed(["a query", "a document"])        # float32 [2, D]

The shared library is found through $XFWD_LIBRARY_DIR when set, else the dynamic
loader's usual search (LD_LIBRARY_PATH, the ld.so cache, the system folders)."""
from ._capi import lib_path as library_path
from ._errors import Error
from ._model import Model

__version__ = "0.1.0"
__all__ = ["Model", "Error", "library_path", "__version__"]
