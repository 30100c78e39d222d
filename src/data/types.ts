/** One split of an image-classification dataset. */
export interface ImageSplit {
  /**
   * NHWC pixels, `count * height * width * channels` of them, in one of two forms:
   * - `Float32Array`: the pixel values themselves (in [0, 1] unless said otherwise);
   * - `Uint8Array`: raw bytes, byte v standing for the value v / 255 (as float32). A quarter of the
   *   memory, and nothing to convert at load time: the batch builders (`classificationBatches`,
   *   `trainClassifier`) convert each batch as they copy it, and `channelStats` reads bytes too.
   *
   * The image-folder and CIFAR binary loaders return bytes; the MNIST-style (IDX) loaders floats.
   * `imagesToFloat` gives the values as floats either way.
   */
  images: Float32Array | Uint8Array;
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
  /** Held out from the training images (see `holdOutValidation`), for tuning; absent when none is. */
  valid?: ImageSplit;
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
