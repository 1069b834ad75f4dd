/** An esbuild metafile, the parts bundle-contents.mjs reads. */
export interface Metafile {
  inputs: Record<string, { bytes: number }>;
  outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
}
export declare const HEAVY_MODULES: Record<string, string>;
export declare function heavyIn(meta: Metafile): Record<string, number>;
