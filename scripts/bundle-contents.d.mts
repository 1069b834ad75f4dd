/** An esbuild metafile, the parts bundle-contents.mjs reads. */
export interface Metafile {
  inputs: Record<string, { bytes: number }>;
  outputs: Record<
    string,
    { bytes: number; entryPoint?: string; imports?: Array<{ path: string; kind: string }>; inputs: Record<string, { bytesInOutput: number }> }
  >;
}
export declare const HEAVY_MODULES: Record<string, string>;
export declare const ON_DEMAND_MODULES: Record<string, string>;
export declare function heavyIn(meta: Metafile): Record<string, number>;
export declare function initFiles(meta: Metafile, ...entries: string[]): string[];
export declare function shippedBytes(meta: Metafile): number;
export declare function filesCarry(meta: Metafile, files: string[], modules?: Record<string, string>): { bytes: number; carries: Record<string, number> };
export declare function outputOf(meta: Metafile, entryPoint: string): string | undefined;
