"""Feedback themes: group in-the-moment feedback comments into a few labelled themes.

TF-IDF (scikit-learn) turns comments into weights of words and of character n-grams (so "saves" and "saved"
land together without a stemmer); k-means with a fixed random_state groups them, and the number of themes is
the smallest whose cosine silhouette is within ``SILHOUETTE_TOLERANCE`` of the best (fewer themes are easier
to act on), so the same comments always give the same themes. Each theme is labelled by its word centroid's
top terms and shows the comments closest to that centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize

RANDOM_STATE = 0
TOP_TERMS = 5
EXAMPLES = 3
MAX_COMMENT_CHARS = 5000  # a pasted log is not feedback; keep the vectorizer's cost bounded
SILHOUETTE_SAMPLE = 2000  # silhouette is O(n²); a fixed-seed sample keeps it cheap and deterministic
UNLABELLED = "other"
SILHOUETTE_TOLERANCE = 0.02
LSA_ABOVE = 300  # beyond this many comments, cluster in a 50-dimension LSA space and restart k-means fewer times (sklearn's text recipe)
LSA_COMPONENTS = 50


@dataclass(frozen=True)
class Theme:
    """A group of similar comments: label, how many, the terms that define it, and representative comments."""

    label: str
    size: int
    top_terms: list[str]
    examples: list[str]


def _clean(comments: list[str]) -> list[str]:
    if isinstance(comments, (str, bytes)) or not isinstance(comments, (list, tuple)):
        raise ValueError("comments must be a list of strings")
    out = []
    for i, c in enumerate(comments):
        if not isinstance(c, str):
            raise ValueError(f"comments[{i}] must be a string, got {type(c).__name__}")
        c = " ".join(c.split())[:MAX_COMMENT_CHARS]
        if c:
            out.append(c)
    return out


def _top_terms(weights: np.ndarray, vocab: np.ndarray) -> list[str]:
    order = np.lexsort((vocab, -weights))  # weight desc, then term asc: stable on ties
    return [str(vocab[j]) for j in order[:TOP_TERMS] if weights[j] > 0]


def _label(terms: list[str]) -> str:
    # Bigrams repeat their unigrams ("slow", "slow response"); keep the label short and non-redundant.
    picked: list[str] = []
    for t in terms:
        if not any(t in p or p in t for p in picked):
            picked.append(t)
        if len(picked) == 2:
            break
    return " / ".join(picked) if picked else UNLABELLED


def _theme(comments: list[str], X, idx: np.ndarray, centroid: np.ndarray, vocab: np.ndarray) -> Theme:
    sims = np.asarray(X[idx] @ centroid).ravel()
    order = sorted(range(len(idx)), key=lambda k: (-round(float(sims[k]), 9), int(idx[k])))
    examples: list[str] = []
    for k in order:
        text = comments[int(idx[k])]
        if text not in examples:
            examples.append(text)
        if len(examples) == EXAMPLES:
            break
    terms = _top_terms(centroid, vocab)
    return Theme(label=_label(terms), size=len(idx), top_terms=terms, examples=examples)


def feedback_themes(comments: list[str], max_themes: int = 5) -> list[Theme]:
    """Top themes in the comments (largest first), each with its top terms and representative comments."""
    if isinstance(max_themes, bool) or not isinstance(max_themes, int) or max_themes < 1:
        raise ValueError(f"max_themes must be a whole number >= 1, got {max_themes!r}")
    texts = _clean(comments)
    if not texts:
        return []
    vec = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True, norm="l2")
    try:
        X = vec.fit_transform(texts)
    except ValueError:
        # Only stop words or punctuation: nothing to group on, so one unlabelled theme.
        return [Theme(label=UNLABELLED, size=len(texts), top_terms=[], examples=list(dict.fromkeys(texts))[:EXAMPLES])]
    vocab = vec.get_feature_names_out()
    # Comments with no vocabulary term left (all stop words) cannot be placed; they form "other".
    empty = np.asarray(X.getnnz(axis=1) == 0)
    rows = np.flatnonzero(~empty)
    Xr = X[rows]
    Xr.sort_indices()
    distinct = len(
        {
            (tuple(Xr.indices[a:b]), tuple(np.round(Xr.data[a:b], 9)))
            for a, b in zip(Xr.indptr[:-1], Xr.indptr[1:])
        }
    )

    k_max = min(max_themes, distinct)
    best_labels = np.zeros(Xr.shape[0], dtype=int)
    best_k = 1
    candidates: list[tuple[int, float, np.ndarray]] = []
    if min(k_max, Xr.shape[0] - 1) >= 2:
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(
            [texts[i] for i in rows]
        )
        Z = normalize(sp.hstack([Xr, chars]).tocsr())
        n_init = 10
        if Z.shape[0] > LSA_ABOVE and Z.shape[1] > LSA_COMPONENTS:
            svd = TruncatedSVD(n_components=LSA_COMPONENTS, n_iter=3, random_state=RANDOM_STATE)
            Z = normalize(svd.fit_transform(Z))
            n_init = 3
        for k in range(2, min(k_max, Xr.shape[0] - 1) + 1):
            km = KMeans(n_clusters=k, random_state=RANDOM_STATE, n_init=n_init).fit(Z)
            if len(set(km.labels_)) < 2:
                continue
            score = silhouette_score(
                Z,
                km.labels_,
                metric="cosine",
                sample_size=min(SILHOUETTE_SAMPLE, Z.shape[0]),
                random_state=RANDOM_STATE,
            )
            candidates.append((k, float(score), km.labels_))
    if candidates:
        top = max(c[1] for c in candidates)
        best_k, _, best_labels = min((c for c in candidates if c[1] >= top - SILHOUETTE_TOLERANCE), key=lambda c: c[0])
    if k_max >= 2 and Xr.shape[0] == 2 and distinct == 2:
        best_k, best_labels = 2, np.array([0, 1])  # two different comments are two themes

    themes: list[Theme] = []
    for c in range(best_k):
        members = rows[best_labels == c]
        if len(members) == 0:
            continue
        centroid = np.asarray(X[members].mean(axis=0)).ravel()
        themes.append(_theme(texts, X, members, centroid, vocab))
    if empty.any():
        idx = np.flatnonzero(empty)
        themes.append(
            Theme(label=UNLABELLED, size=len(idx), top_terms=[], examples=list(dict.fromkeys(texts[i] for i in idx))[:EXAMPLES])
        )
    themes.sort(key=lambda t: (-t.size, t.label))
    return themes[:max_themes]
