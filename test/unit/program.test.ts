import { programSuite } from "./program";

programSuite(false);
