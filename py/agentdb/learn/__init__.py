"""agentdb.learn: training on the kernel, in both homes with the same bits. Optimizers (SGD,
Adam, AdamW), learning-rate schedules, temperature annealing and curriculum stages; LoRA
adapters, contrastive losses and EWC++; negative mining; the training pipeline and its
presets; SONA-style trajectories; and the store's own learning from feedback (db.learn).

>>> from agentdb.learn import Adam, CosineSchedule
>>> CosineSchedule(0.1, total_steps=10).lr_at(5)
0.05
"""
from .optim import SGD, Adam, AdamW, Optimizer  # noqa: F401
from .schedule import (ConstantSchedule, CosineSchedule, Curriculum, LinearSchedule, Schedule,  # noqa: F401
                       StepSchedule, TemperatureAnnealing, WarmupSchedule, make_schedule)
from .lora import LoRA, LoRAGrads, LoRAManager, federated_average  # noqa: F401
from .losses import info_nce, local_contrastive, spectral_regularization, triplet  # noqa: F401
from .ewc import EWC  # noqa: F401
from .mining import (distance_weighted, hard_negatives, in_batch, random_negatives,  # noqa: F401
                     semi_hard_negatives, store_negatives)
from .pipeline import PRESETS, TrainingConfig, TrainingPipeline, TrainingReport, preset  # noqa: F401
from .sona import TrajectoryLearner  # noqa: F401
from .feedback import FeedbackReport, learn  # noqa: F401
