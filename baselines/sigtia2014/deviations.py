"""Where `sigtia2014.mlp` and its suites depart from Sigtia & Dixon (2014), as data (see mirbench.deviations).

The Hessian-free details (diagonal preconditioner, curvature minibatches, the rho rule, an L2 weight cost) follow
Martens (2010) by default, each a switchable option of `mirbench.kit.optim.HessianFree`, so they are not listed
here; a suite that switches one off departs from the paper by its own choice and says so in its description.

The system module is another owner's, so the ledger reaches the system through BY_SYSTEM (the registered name);
`mirbench.deviations.of_system` reads it when the class has no DEVIATIONS attribute.
"""

from __future__ import annotations

from mirbench.deviations import Deviation

DEVIATIONS = (
    Deviation(
        aspect="GTZAN folds",
        paper='"four 50/25/25 splits" (whether independent or a rotation is not said)',
        mirbench="`gtzan-random-4fold`: a 4-fold rotation, fold i tests on quarter i and validates on quarter "
        "i+1, so the four test sets partition GTZAN (independent splits: folds=4, "
        "proportions=[0.5, 0.25, 0.25])",
        why="a rotation tests every track once; the paper's wording allows both readings",
        applies_to="both",
    ),
    Deviation(
        aspect="which GTZAN model transfers (Table 2)",
        paper='"the two models that performed best on the GTZAN dataset", yet all 24 cells reported; the fold '
        "is not said",
        mirbench="every (units, regime) network of GTZAN fold 0, features aggregated over 5 s windows",
        why="the paper does not say which fold's model it used",
    ),
    Deviation(
        aspect="network training data",
        paper="every frame of every training track (645,000 frames on GTZAN)",
        mirbench="40 seeded frames per track for the networks; the forest on every 8th frame, 16 per track in "
        "training (windows all kept)",
        why="a 2-core CPU; the paper quotes 12-14 GPU hours per network",
        applies_to="small",
    ),
    Deviation(
        aspect="training budget",
        paper="early stopping (about 200 epochs on average); up to 200 HF steps of 250 CG iterations",
        mirbench="at most 15 epochs, or 15 HF steps of at most 20 CG iterations",
        why="minutes per suite on a small machine",
        applies_to="small",
    ),
    Deviation(
        aspect="forest size (small suites)",
        paper="a Random Forest (size not given)",
        mirbench="30 trees, for the learned features and the MFCC/PMSC rows alike (100 in the full suites)",
        why="time and memory on a small machine",
        applies_to="small",
    ),
    Deviation(
        aspect="data",
        paper="GTZAN (10 genres); transfer GTZAN → ISMIR2004",
        mirbench="the embedded corpus style task (6 styles, 480 rendered clips); transfer to a second corpus build "
        "(seed 1) that shares works and some excerpts with the first",
        why="no download on a small machine; the transfer is across renderings, not collections",
        applies_to="small",
    ),
)

BY_SYSTEM = {"sigtia2014.mlp": DEVIATIONS}
