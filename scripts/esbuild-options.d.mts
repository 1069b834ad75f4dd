import type { BuildOptions } from 'esbuild';
export declare const bundleOptions: BuildOptions;
export declare const functionDiet: NonNullable<BuildOptions['plugins']>[number];
export declare const functionBundleOptions: BuildOptions;
export declare function functionBuild(name: string, outdir: string, absWorkingDir: string): BuildOptions & { metafile: true };
