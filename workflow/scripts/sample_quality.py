import torch

from diffshare.data.images import ImageSet
from diffshare.evaluation.image_quality import judge_classes, quality_table, train_judge
from diffshare.logs import log_to
from diffshare.storage import write_csv

with log_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    settings = snakemake.params.quality
    train, test = ImageSet.load(snakemake.input.train), ImageSet.load(snakemake.input.test)
    judge = train_judge(
        train.images,
        judge_classes(train, settings["classes"]),
        epochs=settings["epochs"],
    )
    samples = [ImageSet.load(path).images for path in snakemake.input.samples]
    table = quality_table(judge, settings["sets"], samples, test.images, settings["threshold"])
    log.info("%s", table.to_string())
    write_csv(table, snakemake.output[0])
