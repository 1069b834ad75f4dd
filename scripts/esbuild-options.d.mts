import type { BuildOptions } from 'esbuild';
export declare const bundleOptions: BuildOptions;
export declare const functionDiet: NonNullable<BuildOptions['plugins']>[number];
export declare const functionBundleOptions: BuildOptions;
