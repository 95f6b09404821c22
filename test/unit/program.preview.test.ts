import { programSuite } from "./program";

// computed values are unknown and apply callbacks do not run: the program must still build its graph
programSuite(true);
