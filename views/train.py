"""Train page: extract the study's features, train models under a chosen protocol, watch them learn."""

import streamlit as st

from dashboard import data, training, widgets
from dashboard.form_state import keep, remembered
from mgc.config import MODEL_NAMES, STUDY_MODELS, model_title
from mgc.dataset import SPLITS, suggested_split
from mgc.errors import MgcError
from mgc.training import RECIPES, recipe_help, recipe_values

SPLIT_HELP = {
    "segment": "The study's protocol: random over 3-s segments. Segments of one song sit on both sides: leaky.",
    "track": "Whole tracks go to one side only, stratified by class; but songs of one artist still sit on both "
    "sides (GTZAN holds runs of them): artist-leaky.",
    "fault-filtered": "Honest: the artist-conditional, duplicate-free GTZAN split (Kereliuk, Sturm & Larsen 2015). "
    "Without its test part (a subset) it tests on its valid list and validates on part of train.",
    "fma-official": "Honest, for the Free Music Archive: FMA's own artist-filtered training / validation / test "
    "split (set.split of tracks.csv). Only on an FMA folder.",
}

RECIPES_OWN = "recipe's"
CHOICES = [RECIPES_OWN, "yes", "no"]
#: The keys of the page's choices, kept across page switches (dashboard.form_state).
KEPT = (
    "train.classes",
    "train.models",
    "train.split",
    "train.recipe",
    "train.epochs",
    "train.batch",
    "train.lr",
    "train.seed",
    "train.standardize",
    "train.random_windows",
    "train.class_weight",
    "train.patience",
    "train.mixup",
)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _recipe_overrides() -> dict:
    """Widgets that override single settings of the chosen recipe; returns only those changed."""
    with st.expander("Override the recipe's settings"):
        st.caption("Each setting left at *recipe's* follows the recipe chosen above.")
        a1, a2, a3 = st.columns(3)
        picks = {
            "standardize": a1.selectbox(
                "Standardise inputs",
                CHOICES,
                **remembered("train.standardize", RECIPES_OWN, options=CHOICES, arg="index"),
                help="Per-coefficient mean and variance of the training part, inside the model",
            ),
            "random_windows": a2.selectbox(
                "Random training windows",
                CHOICES,
                **remembered("train.random_windows", RECIPES_OWN, options=CHOICES, arg="index"),
                help="Every epoch, each training segment becomes a 3-s window cut at a "
                "random frame of its track's training segments",
            ),
            "class_weight": a3.selectbox(
                "Balanced class weights",
                CHOICES,
                **remembered("train.class_weight", RECIPES_OWN, options=CHOICES, arg="index"),
            ),
        }
        b1, b2 = st.columns(2)
        patience = b1.number_input(
            "Early stopping patience (0 = off)",
            min_value=0,
            max_value=1000,
            **remembered("train.patience", None),
            placeholder=RECIPES_OWN,
            help="Epochs without a better validation score; the best epoch's weights are kept",
        )
        alpha = b2.number_input(
            "Mixup alpha (0 = off)",
            min_value=0.0,
            max_value=10.0,
            **remembered("train.mixup", None),
            placeholder=RECIPES_OWN,
            help="Blend training examples and their labels, weights drawn from Beta(alpha, alpha)",
        )
    out = {k: v == "yes" for k, v in picks.items() if v != RECIPES_OWN}
    if patience is not None:
        out["early_stopping"] = int(patience)
    if alpha is not None:
        out["mixup"] = float(alpha)
    return out


widgets.page_header("Train")
root = data.dataset_root()

# --- 1. features -------------------------------------------------------------------
st.header("1 · Features", divider="gray")
try:
    ds = data.dataset(str(root))
except MgcError as e:
    st.error(str(e))
    st.stop()
counts = ds.counts()
default = [c for c, n in counts.items() if n >= 3] or list(counts)
classes = st.multiselect(
    "Classes",
    list(counts),
    **remembered("train.classes", default, options=list(counts), arg="default"),
    format_func=lambda c: f"{c} ({counts[c]} tracks)",
    help="Classes with fewer than 3 tracks are left out by default: a track split cannot test them.",
)
st.caption(
    "The study's features: 10 segments of 3 s per 30-s clip, 13 MFCCs each (n_fft 2048, hop 512) "
    "-> 130 frames x 13 per segment. Cached on disk: a second extraction is instant."
)
feats = training.current_features(str(root), classes)
if st.button("Extract features", type="primary" if feats is None else "secondary", disabled=len(classes) < 2):
    try:
        feats = training.extract_features(str(root), classes)
    except MgcError as e:
        st.error(str(e))
if len(classes) < 2:
    st.info("Choose at least two classes.")
elif feats is None:
    st.info("Extract the features to train (instant when they are cached).")
else:
    widgets.show_feature_summary(feats)

# --- 2. settings ---------------------------------------------------------------------
st.header("2 · Models and protocol", divider="gray")
# not a form: a form's choices reach the server only when submitted, and so could not be kept for a
# visit to another page before training (dashboard.form_state keeps every choice as it is made)
with st.container(border=True):
    c1, c2, c3 = st.columns(3)
    models = c1.multiselect(
        "Models",
        MODEL_NAMES,
        **remembered("train.models", list(STUDY_MODELS), options=MODEL_NAMES, arg="default"),
        format_func=model_title,
        help="The study's three networks learn from MFCCs. Transfer (beyond the study) is a small head on the "
        "embeddings of a pretrained music tagger (musicnn); choosing it embeds every segment first.",
    )
    split = c2.radio(
        "Split",
        SPLITS,
        **remembered(
            "train.split",
            suggested_split((t.track_id for t in ds.tracks), official=ds.official),
            options=SPLITS,
            arg="index",
        ),
        captions=[SPLIT_HELP[s] for s in SPLITS],
    )
    recipe = c3.radio(
        "Recipe",
        list(RECIPES),
        **remembered("train.recipe", "study", options=list(RECIPES), arg="index"),
        captions=[_sentence(recipe_help(r)) for r in RECIPES],
    )
    c4, c5, c6, c7 = st.columns(4)
    epochs = c4.number_input(
        f"Epochs ({recipe_values('epochs', sep=' · ')})",
        min_value=1,
        max_value=1000,
        **remembered("train.epochs", None),
        placeholder=RECIPES_OWN,
        help="Empty: the recipe's. The study's figures run 100 epochs.",
    )
    batch = c5.number_input("Batch size (study: 32)", min_value=1, max_value=4096, **remembered("train.batch", 32))
    lr = c6.number_input(
        "Learning rate",
        min_value=1e-6,
        max_value=0.5,
        **remembered("train.lr", None),
        format="%.6f",
        placeholder=RECIPES_OWN,
        help=f"Empty: the recipe's ({recipe_values('learning_rate')}). Adam's rate; where the recipe "
        "decays it, the starting rate.",
    )
    seed = c7.number_input("Seed", min_value=0, max_value=2**31 - 1, **remembered("train.seed", 0))
    overrides = _recipe_overrides()
    submitted = st.button("Start training", type="primary", disabled=feats is None)
keep(*KEPT)  # the choices come back after a visit to another page
if submitted:
    try:
        if "transfer" in models:
            embedded = training.current_features(str(root), classes, "embedding") or training.extract_features(
                str(root), classes, "embedding"
            )
            feats = {"mfcc": feats, "embedding": embedded}
        training.start_training(
            feats,
            models=models,
            split=split,
            recipe=recipe,
            epochs=None if epochs is None else int(epochs),
            batch_size=int(batch),
            learning_rate=None if lr is None else float(lr),
            seed=int(seed),
            overrides=overrides,
        )
    except MgcError as e:
        st.error(str(e))

# --- 3. progress: shown whatever the state above, so a running job is never out of sight ----------
st.header("3 · Progress", divider="gray")
training.training_panel()
