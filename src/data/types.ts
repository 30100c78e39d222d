/** One split of an image-classification dataset. */
export interface ImageSplit {
  /** NHWC pixel values, `count * height * width * channels` floats (scaled to [0, 1] unless said otherwise). */
  images: Float32Array;
  /** Class indices in [0, numClasses), one per image. */
  labels: Int32Array;
  count: number;
}

export interface ImageClassificationDataset {
  name: string;
  /** [height, width, channels] of one image. */
  imageShape: [number, number, number];
  numClasses: number;
  classNames: string[];
  train: ImageSplit;
  test: ImageSplit;
}

/** A word-level language-modelling corpus: token ids into `vocab`. */
export interface LanguageModelCorpus {
  name: string;
  /** Index = token id. Contains `<unk>` and `<eos>`. */
  vocab: string[];
  unkId: number;
  eosId: number;
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
}
