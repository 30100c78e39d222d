// The tests choose their backends on purpose: TF.js's Node.js banner would only repeat per file.
import { muteTfjsNodeBanner } from '../../src/cli/quiet-tfjs.js';

muteTfjsNodeBanner();
