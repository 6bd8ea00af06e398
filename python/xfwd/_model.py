"""_model.py — xfwd.Model: one checkpoint folder, one engine, numpy in and out.

Inputs ("texts_or_token_lists") are either texts — a str or a list of str, tokenized
as the folder says (its tokenizer.json, special tokens, lower-casing, prompts) by
xf_tokenize_texts — or token ids: one list of ints, or a list of lists / 1-D int
arrays. Sequences are independent and never padded."""
import ctypes
import threading

import numpy as np

from . import _capi
from ._errors import Error, check



def _resolve_name(table, value, what):
    key = value.lower() if isinstance(value, str) else value
    if key not in table:
        names = ", ".join(k for k in table if k is not None)
        raise ValueError(f"xfwd: {what} must be one of {names}, got {value!r}")
    return table[key]


def _is_texts(inputs):
    if isinstance(inputs, str):
        return True
    return isinstance(inputs, (list, tuple)) and len(inputs) > 0 and all(isinstance(x, str) for x in inputs)


def _token_lists(inputs):
    """Token ids as (tokens int32 [T], seq_lens int32 [B]); ids must fit int32."""
    if isinstance(inputs, np.ndarray) and inputs.ndim == 1:
        seqs = [inputs]
    elif isinstance(inputs, (list, tuple)) and inputs and all(isinstance(x, (int, np.integer)) for x in inputs):
        seqs = [inputs]  # one sequence
    else:
        seqs = list(inputs)
    arrays = []
    for i, s in enumerate(seqs):
        a = np.asarray(s)
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise Error(f"xfwd: sequence {i} is not a list of token ids", _capi.XF_ERR_INVALID_ARG)
        a = a.astype(np.int64, copy=False)
        if a.size and (a.min() < -2**31 or a.max() >= 2**31):
            raise Error(f"xfwd: sequence {i} holds a token id outside int32", _capi.XF_ERR_INVALID_ARG)
        arrays.append(a.astype(np.int32))
    lens = np.array([len(a) for a in arrays], dtype=np.int32)
    tokens = np.concatenate(arrays) if arrays else np.zeros(0, np.int32)
    return np.ascontiguousarray(tokens, np.int32), lens


def _i32(a):
    return a.ctypes.data_as(_capi.i32p)


def _f32(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def _cstrings(strings):
    arr = (ctypes.c_char_p * len(strings))()
    for i, s in enumerate(strings):
        arr[i] = s.encode("utf-8")
    return arr


class _Prepared:
    """A batch ready for the engine, with the arrays it points into kept alive."""

    def __init__(self, tokens, seq_lens, prompt_lens=None, adapter_ids=None):
        self.tokens, self.seq_lens, self.prompt_lens, self.adapter_ids = tokens, seq_lens, prompt_lens, adapter_ids
        self.batch = _capi.Batch(_i32(tokens), _i32(seq_lens), len(seq_lens),
                                 _i32(adapter_ids) if adapter_ids is not None else None)

    @property
    def n_seqs(self):
        return len(self.seq_lens)

    @property
    def n_tokens(self):
        return len(self.tokens)

    def split(self, rows):
        """Rows [T, X] of the concatenated sequences, one array per sequence."""
        return np.split(rows, np.cumsum(self.seq_lens)[:-1]) if self.n_seqs else []


class Model:
    """A model folder and an engine to run it.

    Model(path, backend="auto", dtype="auto", adapters=None, *, max_tokens=0,
          threads=0, cache_dir=None, tokenizer=None, device=0)

    backend: "auto" (CUDA when a GPU is present, else the fast CPU path), "cpu",
             "cpu_ref", "cuda" or "vulkan".
    dtype:   "f32", "tf32", "bf16", "f16", or "auto": what the command line's
             --dtype auto picks (xf_model_auto_dtype) — on a GPU the checkpoint's own
             dtype (bf16 / f16 weights compute in that dtype, f32 or mixed weights in
             f32); on the CPU f32, or bf16 for a bf16 checkpoint where the CPU has
             bf16 instructions and the library was built with oneDNN. With
             backend="auto", a CUDA engine is tried first and the CPU taken when
             there is no GPU — what backend "auto" does in the library.
    adapters: {name: PEFT LoRA folder}; each call picks one with adapter=name
             (None: the base model).
    tokenizer: a tokenizer.json path (default: the folder's tokenizer.json, opened
             on first use of text input).
    device:  which GPU (the CUDA ordinal, or the index among the Vulkan devices, GPUs
             first); one Model per device makes replicas. The CPU has device 0 only.

    One Model runs one forward at a time (calls from several threads queue on a
    lock); forwards release the GIL, so Models in different threads compute
    concurrently. Use it as a context manager, or call close()."""

    def __init__(self, path, backend="auto", dtype="auto", adapters=None, *, max_tokens=0, threads=0,
                 cache_dir=None, tokenizer=None, device=0):
        self._model = self._engine = self._tokenizer = None
        self._adapters = []
        self._lock = threading.Lock()        # one forward at a time on this Model
        self._tok_lock = threading.Lock()    # the tokenizer is opened once
        self.path = str(path)
        self._tokenizer_path = str(tokenizer) if tokenizer is not None else self.path + "/tokenizer.json"
        backend_id = _resolve_name(_capi.BACKENDS, backend, "backend")
        if dtype != "auto":
            _resolve_name(_capi.DTYPES, dtype, "dtype")
        try:
            handle = ctypes.c_void_p()
            check(_capi.fn("xf_model_open")(self.path.encode(), ctypes.byref(handle)))
            self._model = handle
            self._info_c = _capi.ModelInfo()
            check(_capi.fn("xf_model_get_info")(self._model, ctypes.byref(self._info_c)))
            self.adapter_names = list(adapters or {})
            for name in self.adapter_names:
                a = ctypes.c_void_p()
                check(_capi.fn("xf_adapter_open")(self._model, str(adapters[name]).encode(), ctypes.byref(a)))
                self._adapters.append(a)
            self._create_engine(backend_id, dtype, max_tokens, threads, cache_dir, device)
        except BaseException:
            self.close()
            raise
        self.info = self._make_info()

    # ---------------------------------------------------------------- setup

    def _engine_options(self, backend_id, dtype_id, max_tokens, threads, cache_dir, device):
        o = _capi.EngineOptions()
        _capi.fn("xf_engine_options_init")(ctypes.byref(o))
        o.backend, o.dtype, o.max_tokens, o.n_threads = backend_id, dtype_id, max_tokens, threads
        o.device = device
        if self._adapters:
            self._adapter_array = (ctypes.c_void_p * len(self._adapters))(*[a.value for a in self._adapters])
            o.adapters = ctypes.cast(self._adapter_array, ctypes.POINTER(ctypes.c_void_p))
            o.n_adapters = len(self._adapters)
        if cache_dir is not None:
            self._cache_dir = str(cache_dir).encode()
            o.cache_dir = self._cache_dir
        return o

    def _try_engine(self, backend_id, dtype_name, *args):
        o = self._engine_options(backend_id, _capi.DTYPES[dtype_name], *args)
        e = ctypes.c_void_p()
        status = _capi.fn("xf_engine_create")(self._model, ctypes.byref(o), ctypes.byref(e))
        return status, e

    def _auto_dtype(self, backend_id):
        """The library's "auto" dtype for this model on a backend (xf_model_auto_dtype)."""
        code = _capi.fn("xf_model_auto_dtype")(self._model, backend_id)
        return next(k for k, v in _capi.DTYPES.items() if v == code)

    def _create_engine(self, backend_id, dtype, *args):
        if dtype != "auto":
            plan = [(backend_id, dtype.lower())]
        elif backend_id != _capi.BACKENDS["auto"]:
            plan = [(backend_id, self._auto_dtype(backend_id))]
        else:  # AUTO: CUDA in its auto dtype, else the fast CPU path in its own
            plan = [(_capi.BACKENDS["cuda"], self._auto_dtype(_capi.BACKENDS["cuda"])),
                    (_capi.BACKENDS["cpu"], self._auto_dtype(_capi.BACKENDS["cpu"]))]
        for i, (b, d) in enumerate(plan):
            status, e = self._try_engine(b, d, *args)
            if status == _capi.XF_ERR_NO_DEVICE and i + 1 < len(plan):
                continue
            check(status)
            self._engine, self.dtype = e, d
            break
        code = _capi.fn("xf_engine_backend")(self._engine)
        self.backend = next(k for k, v in _capi.BACKENDS.items() if v == code)

    def _make_info(self):
        c = self._info_c
        info = {}
        for name, _ in _capi.ModelInfo._fields_:
            v = getattr(c, name)
            info[name] = v.decode() if isinstance(v, bytes) else v
        info["arch"] = _capi.ARCHS[c.arch] if 0 <= c.arch < len(_capi.ARCHS) else c.arch
        info["labels"] = [c.labels[i].decode() for i in range(c.num_labels)] if c.labels else []
        pools = {v: k for k, v in _capi.POOLINGS.items() if k != "cls"}
        info["default_pooling"] = pools.get(c.default_pooling, c.default_pooling)
        for flag in ("tied_embeddings", "has_lm_head", "causal", "default_normalize", "include_prompt"):
            info[flag] = bool(info[flag])
        info.update(path=self.path, backend=self.backend, dtype=self.dtype, adapters=list(self.adapter_names))
        return info

    def close(self):
        """Releases the engine, adapters, tokenizer and model (idempotent)."""
        if getattr(self, "_engine", None):
            _capi.fn("xf_engine_free")(self._engine)
            self._engine = None
        for a in getattr(self, "_adapters", []):
            _capi.fn("xf_adapter_free")(a)
        self._adapters = []
        if getattr(self, "_tokenizer", None):
            _capi.fn("xf_tokenizer_free")(self._tokenizer)
            self._tokenizer = None
        if getattr(self, "_model", None):
            _capi.fn("xf_model_free")(self._model)
            self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the module may be half torn down
            pass

    def __repr__(self):
        state = "closed" if not self._engine else f"{self.backend}, {self.dtype}"
        return f"xfwd.Model({self.path!r}, {state})"

    def _live(self):
        if not self._engine:
            raise Error("xfwd: the model is closed", _capi.XF_ERR_INVALID_ARG)

    def _tok(self):
        with self._tok_lock:
            if not self._tokenizer:
                t = ctypes.c_void_p()
                check(_capi.fn("xf_tokenizer_open")(self._tokenizer_path.encode(), ctypes.byref(t)))
                self._tokenizer = t
            return self._tokenizer

    # ---------------------------------------------------------------- inputs

    def _adapter_ids(self, adapter, n):
        if adapter is None and not self._adapters:
            return None
        names = adapter if isinstance(adapter, (list, tuple)) else [adapter] * n
        if len(names) != n:
            raise ValueError(f"xfwd: {len(names)} adapter names for {n} sequences")
        ids = []
        for a in names:
            if a is None:
                ids.append(-1)
            elif a in self.adapter_names:
                ids.append(self.adapter_names.index(a))
            else:
                raise ValueError(f"xfwd: no adapter named {a!r} (this Model has {self.adapter_names})")
        return np.array(ids, dtype=np.int32)

    def _texts(self, texts, pairs=None, prompt=None, truncate=None, add_special=True, max_length=0):
        """Texts through xf_tokenize_texts: (tokens, seq_lens, prompt_lens) as numpy."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if pairs is not None:
            pairs = [pairs] if isinstance(pairs, str) else list(pairs)
            if len(pairs) != len(texts):
                raise ValueError(f"xfwd: {len(pairs)} pair texts for {len(texts)} texts")
        if not texts:
            return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32)
        tokenize = _capi.fn("xf_tokenize_texts")
        o = _capi.TextOptions()
        _capi.fn("xf_text_options_init")(ctypes.byref(o))
        o.prompt = prompt.encode() if prompt else None
        o.add_special = 1 if add_special else 0
        o.truncate = _resolve_name(_capi.TRUNCATES, truncate, "truncate")
        o.max_length = max_length
        out = _capi.Tokens()
        c_texts = _cstrings(texts)
        c_pairs = _cstrings(pairs) if pairs is not None else None
        check(tokenize(self._model, self._tok(), c_texts, c_pairs, len(texts), ctypes.byref(o), ctypes.byref(out)))
        try:
            n, t = out.n_seqs, out.n_tokens
            tokens = np.ctypeslib.as_array(out.tokens, (t,)).copy() if t else np.zeros(0, np.int32)
            lens = np.ctypeslib.as_array(out.seq_lens, (n,)).copy() if n else np.zeros(0, np.int32)
            plens = (np.ctypeslib.as_array(out.prompt_lens, (n,)).copy() if n and out.prompt_lens
                     else np.zeros(n, np.int32))
        finally:
            _capi.fn("xf_tokens_free")(ctypes.byref(out))
        return tokens, lens, plens

    def _prepare(self, inputs, adapter=None, pairs=None, prompt=None, truncate=None):
        if _is_texts(inputs):
            tokens, lens, plens = self._texts(inputs, pairs=pairs, prompt=prompt, truncate=truncate)
        else:
            if pairs is not None or prompt:
                raise ValueError("xfwd: pairs and prompts apply to text input, not to token ids")
            tokens, lens = _token_lists(inputs)
            plens = None
        return _Prepared(tokens, lens, plens, self._adapter_ids(adapter, len(lens)))

    def _run(self, name, p, out, *extra):
        self._live()
        with self._lock:
            check(_capi.fn(name)(self._engine, ctypes.byref(p.batch), *extra, _f32(out)))
        return out

    # ---------------------------------------------------------------- forwards

    def hidden(self, inputs, adapter=None, truncate=None):
        """Final hidden states (after the final norm): a list of float32 [len_i, H]."""
        p = self._prepare(inputs, adapter, truncate=truncate)
        if p.n_seqs == 0:
            return []
        out = np.empty((p.n_tokens, self.info["hidden_size"]), np.float32)
        return p.split(self._run("xf_engine_hidden", p, out))

    def logits(self, inputs, adapter=None, truncate=None):
        """Logits at every position: a list of float32 [len_i, V]."""
        p = self._prepare(inputs, adapter, truncate=truncate)
        if p.n_seqs == 0:
            return []
        out = np.empty((p.n_tokens, self.info["vocab_size"]), np.float32)
        return p.split(self._run("xf_engine_logits", p, out))

    def last_logits(self, inputs, ids, adapter=None, truncate=None):
        """Logits of each sequence's last token at vocabulary `ids`: float32 [B, len(ids)]."""
        p = self._prepare(inputs, adapter, truncate=truncate)
        ids = np.ascontiguousarray(ids, dtype=np.int32)
        out = np.empty((p.n_seqs, len(ids)), np.float32)
        if p.n_seqs == 0:
            return out
        return self._run("xf_engine_last_logits", p, out, _i32(ids), len(ids))

    def embed(self, inputs, pooling=None, normalize=None, dimensions=None, prompt_name=None, prompt=None,
              adapter=None, truncate="right"):
        """Sentence embeddings: float32 [B, D], through the folder's pipeline (pooling,
        Dense modules, Normalize) as sentence-transformers runs it, each step
        overridable: pooling "last" | "mean" | "first" | "max" | "mean_sqrt_len",
        normalize True/False, dimensions N (keep the first N, then normalise).
        Texts get a prompt: `prompt` (text) or `prompt_name` (the folder's
        config_sentence_transformers.json), else the folder's default prompt;
        prompt="" gives none. Texts longer than the model's max_seq_length are cut
        (truncate="right", as sentence-transformers does; None makes it an error)."""
        if prompt is not None and prompt_name is not None:
            raise ValueError("xfwd: give prompt or prompt_name, not both")
        texts = _is_texts(inputs)
        if texts and prompt is None:
            name = prompt_name if prompt_name is not None else self.info["default_prompt_name"]
            if name:
                prompt = self.prompt(name)
        elif not texts and prompt_name is not None:
            raise ValueError("xfwd: prompts apply to text input, not to token ids")
        p = self._prepare(inputs, adapter, prompt=prompt, truncate=truncate if texts else None)
        o = _capi.EncodeOptions()
        _capi.fn("xf_encode_options_init")(ctypes.byref(o))
        if pooling is not None:
            o.pooling = _resolve_name(_capi.POOLINGS, pooling, "pooling")
        if normalize is not None:
            o.normalize = 1 if normalize else 0
        if dimensions is not None:
            if not 0 < int(dimensions) <= self.info["embed_dim"]:
                raise Error(f"xfwd: dimensions must be in 1..{self.info['embed_dim']}, got {dimensions}",
                            _capi.XF_ERR_INVALID_ARG)
            o.dimensions = int(dimensions)
        if p.prompt_lens is not None:
            o.prompt_lens = _i32(p.prompt_lens)
        out = np.empty((p.n_seqs, o.dimensions or self.info["embed_dim"]), np.float32)
        if p.n_seqs == 0:
            return out
        return self._run("xf_engine_encode", p, out, ctypes.byref(o))

    def classify(self, inputs, pairs=None, adapter=None, truncate=None):
        """Scores of a *ForSequenceClassification head: (scores float32 [B, L], labels),
        labels being the L names of the config's id2label (labels[scores[i].argmax()]
        is sequence i's class). pairs: second texts of (text, pair) inputs."""
        p = self._prepare(inputs, adapter, pairs=pairs, truncate=truncate)
        out = np.empty((p.n_seqs, self.info["num_labels"]), np.float32)
        if p.n_seqs:
            self._run("xf_engine_classify", p, out)
        return out, list(self.info["labels"])

    def rerank(self, query, docs, instruction=None, raw_scores=False, truncate="right", prefix=None,
               suffix=None, yes_token=None, no_token=None):
        """Relevance of each document to the query: float32 [len(docs)]. A classifier
        scores (query, doc) pairs with its head; a causal LM follows the
        Qwen3-Reranker recipe (P(yes) at the last token); see xf_engine_rerank."""
        docs = [docs] if isinstance(docs, str) else list(docs)
        out = np.empty(len(docs), np.float32)
        if not docs:
            return out
        o = _capi.RerankOptions()
        _capi.fn("xf_rerank_options_init")(ctypes.byref(o))
        keep = {}
        for field, v in (("prefix", prefix), ("suffix", suffix), ("instruction", instruction),
                         ("yes_token", yes_token), ("no_token", no_token)):
            if v is not None:
                keep[field] = v.encode()
                setattr(o, field, keep[field])
        o.raw_scores = 1 if raw_scores else 0
        o.truncate = _resolve_name(_capi.TRUNCATES, truncate, "truncate")
        self._live()
        c_docs = _cstrings(docs)
        tok = self._tok()
        with self._lock:
            check(_capi.fn("xf_engine_rerank")(self._engine, tok, query.encode(), c_docs, len(docs),
                                               ctypes.byref(o), _f32(out)))
        return out

    # ---------------------------------------------------------------- text

    def tokenize(self, texts, add_special=True, truncate=None, max_length=0):
        """Token ids as the folder's tokenizer gives them: a list of ints for a str,
        a list of lists for a list of texts."""
        tokens, lens, _ = self._texts(texts, truncate=truncate, add_special=add_special, max_length=max_length)
        seqs = [s.tolist() for s in np.split(tokens, np.cumsum(lens)[:-1])] if len(lens) else []
        return seqs[0] if isinstance(texts, str) else seqs

    def detokenize(self, ids):
        """Text of token ids (special tokens kept): a str for a list of ints, a list of
        str for a list of lists."""
        single = isinstance(ids, np.ndarray) and ids.ndim == 1 or (
            isinstance(ids, (list, tuple)) and all(isinstance(x, (int, np.integer)) for x in ids))
        seqs = [ids] if single else list(ids)
        tok = self._tok()
        texts = []
        for s in seqs:
            a = np.ascontiguousarray(s, dtype=np.int32)
            ptr, n = ctypes.c_void_p(), ctypes.c_size_t()
            check(_capi.fn("xf_tokenizer_decode")(tok, _i32(a), len(a), ctypes.byref(ptr), ctypes.byref(n)))
            try:
                texts.append(ctypes.string_at(ptr, n.value).decode("utf-8", "replace"))
            finally:
                _capi.free(ptr)
        return texts[0] if single else texts

    def describe(self):
        """What the engine runs, as text: the forward's recipe, one line per op with the
        kernel, tile and layout the backend chose (what `xfwd info --verbose` prints)."""
        self._live()
        ptr = ctypes.c_void_p()
        with self._lock:
            check(_capi.fn("xf_engine_describe")(self._engine, ctypes.byref(ptr)))
        try:
            return ctypes.string_at(ptr).decode("utf-8", "replace")
        finally:
            _capi.free(ptr)

    def prompt(self, name):
        """The folder's prompt text called `name` (config_sentence_transformers.json)."""
        text = ctypes.c_char_p()
        check(_capi.fn("xf_model_prompt")(self._model, name.encode(), ctypes.byref(text)))
        return text.value.decode() if text.value else ""

    @property
    def peak_memory(self):
        """Peak device (or host scratch) memory the engine has used, in bytes."""
        self._live()
        return int(_capi.fn("xf_engine_peak_memory")(self._engine))
