/**
 * The HelmChart API (`source.toolkit.fluxcd.io/v1`): explicit objects, and the HelmChart
 * helm-controller generates from a HelmRelease's `spec.chart` template.
 */
import { ValidationError } from '../util/errors.js';
import { parseDuration } from '../util/duration.js';
import { HELM_TOOLKIT_GROUP, keptMetadata, objectIdentity, type HelmRelease } from './release-spec.js';
import { SOURCE_API_VERSION, SOURCE_API_VERSIONS } from './repository-spec.js';
import { S, validate, type Schema } from './schema.js';
import { parseVerification, type OciVerification } from '../oci/spec.js';

/** A validated HelmChart spec. */
export interface HelmChartSpec {
  /** Chart name in a repository, or a path in a GitRepository/Bucket artifact. */
  chart: string;
  /** Default `*`; ignored for GitRepository and Bucket sources. */
  version: string;
  sourceRef: { apiVersion?: string; kind: 'HelmRepository' | 'GitRepository' | 'Bucket'; name: string };
  interval: string;
  intervalMs: number;
  /** Default `ChartVersion`. */
  reconcileStrategy: 'ChartVersion' | 'Revision';
  valuesFiles: string[];
  ignoreMissingValuesFiles: boolean;
  suspend: boolean;
  /** `spec.verify` (cosign): checked for charts from an OCI HelmRepository, as in Flux. */
  verify?: OciVerification;
}

/** A validated HelmChart. */
export interface HelmChart {
  apiVersion: string;
  kind: 'HelmChart';
  metadata: { name: string; namespace: string; generation?: number; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: HelmChartSpec;
}

/** The CRD rules of HelmChart `spec`. */
export const HELMCHART_SPEC_SCHEMA: Schema = S.obj(
  {
    chart: S.str(),
    version: S.str(),
    sourceRef: S.obj({ apiVersion: S.str(), kind: S.enumOf('HelmRepository', 'GitRepository', 'Bucket'), name: S.str() }, ['kind', 'name']),
    interval: S.duration(),
    reconcileStrategy: S.enumOf('ChartVersion', 'Revision'),
    valuesFiles: S.arr(S.str()),
    ignoreMissingValuesFiles: S.bool(),
    suspend: S.bool(),
    verify: S.obj(
      {
        provider: S.enumOf('cosign', 'notation'),
        secretRef: S.obj({ name: S.str() }, ['name']),
        matchOIDCIdentity: S.arr(S.obj({ issuer: S.str(), subject: S.str() }, ['issuer', 'subject'])),
      },
      [],
    ),
  },
  ['chart', 'interval', 'sourceRef'],
);

/** Validates a HelmChart and returns it typed. Throws ValidationError naming the fields. */
export function parseHelmChart(o: unknown, opts: { defaultNamespace?: string } = {}): HelmChart {
  const { raw, name, namespace, id, meta } = objectIdentity(o, 'HelmChart', SOURCE_API_VERSIONS, opts.defaultNamespace);
  if (raw.spec === undefined || raw.spec === null) throw new ValidationError(`${id}: spec: Required value`);
  const problems = validate(HELMCHART_SPEC_SCHEMA, raw.spec, 'spec');
  if (problems.length) {
    const lines = problems.map((p) => `${p.path}: ${p.message}`);
    throw new ValidationError(`${id}: ${lines.length === 1 ? lines[0] : `invalid spec:\n  ${lines.join('\n  ')}`}`);
  }
  const spec = raw.spec as Record<string, unknown>;
  const ref = spec.sourceRef as { apiVersion?: string; kind: HelmChartSpec['sourceRef']['kind']; name: string };
  if (!spec.chart) throw new ValidationError(`${id}: spec.chart: Required value`);
  const interval = spec.interval as string;
  const verify = parseVerification(spec.verify, 'spec.verify', (msg) => {
    throw new ValidationError(`${id}: ${msg}`);
  }, { trustedRoot: false });
  return {
    apiVersion: raw.apiVersion as string,
    kind: 'HelmChart',
    metadata: keptMetadata(meta, name, namespace),
    spec: {
      chart: spec.chart as string,
      version: typeof spec.version === 'string' && spec.version ? spec.version : '*',
      sourceRef: { ...(ref.apiVersion ? { apiVersion: ref.apiVersion } : {}), kind: ref.kind, name: ref.name },
      interval,
      intervalMs: parseDuration(interval, 'spec.interval'),
      reconcileStrategy: (spec.reconcileStrategy as HelmChartSpec['reconcileStrategy'] | undefined) ?? 'ChartVersion',
      valuesFiles: ((spec.valuesFiles as string[] | undefined) ?? []).slice(),
      ignoreMissingValuesFiles: spec.ignoreMissingValuesFiles === true,
      suspend: spec.suspend === true,
      ...(verify ? { verify } : {}),
    },
  };
}

/**
 * The HelmChart helm-controller creates (by server-side apply) for a HelmRelease with
 * `spec.chart`: named `<hrNamespace>-<hrName>` in `sourceRef.namespace` (default the
 * HelmRelease's), interval defaulting to the HelmRelease's, the template's labels and
 * annotations, plus the owner labels `helm.toolkit.fluxcd.io/name|namespace`.
 * Undefined when the HelmRelease uses `chartRef`.
 */
export function helmChartFromRelease(hr: HelmRelease): HelmChart | undefined {
  const tpl = hr.spec.chart;
  if (!tpl) return undefined;
  const interval = tpl.spec.interval ?? hr.spec.interval;
  return {
    apiVersion: SOURCE_API_VERSION,
    kind: 'HelmChart',
    metadata: {
      name: hr.helmChartName,
      namespace: tpl.spec.sourceRef.namespace ?? hr.metadata.namespace,
      labels: {
        ...(tpl.metadata?.labels ?? {}),
        [`${HELM_TOOLKIT_GROUP}/name`]: hr.metadata.name,
        [`${HELM_TOOLKIT_GROUP}/namespace`]: hr.metadata.namespace,
      },
      ...(tpl.metadata?.annotations ? { annotations: { ...tpl.metadata.annotations } } : {}),
    },
    spec: {
      chart: tpl.spec.chart,
      version: tpl.spec.version,
      sourceRef: { kind: tpl.spec.sourceRef.kind, name: tpl.spec.sourceRef.name },
      interval,
      intervalMs: parseDuration(interval, 'spec.chart.spec.interval'),
      reconcileStrategy: tpl.spec.reconcileStrategy,
      valuesFiles: tpl.spec.valuesFiles.slice(),
      ignoreMissingValuesFiles: tpl.spec.ignoreMissingValuesFiles,
      suspend: false,
      ...(tpl.spec.verify ? { verify: { ...tpl.spec.verify, matchOIDCIdentity: [] } } : {}),
    },
  };
}

/** `status.helmChart` of a HelmRelease: `<namespace>/<name>` of its generated HelmChart. */
export function helmChartStatusRef(hr: HelmRelease): string | undefined {
  const c = helmChartFromRelease(hr);
  return c ? `${c.metadata.namespace}/${c.metadata.name}` : undefined;
}

/** source-controller RemoteReference.Validate: the rule for chart names in a HelmRepository. */
export function remoteChartNameProblem(name: string): string | undefined {
  if (!name) return 'no name set for remote chart reference';
  // Go's ^([-a-z0-9]+/?\.?)+$, rewritten without nested quantifiers (no backtracking blow-up).
  if (!/^[-a-z0-9]+(?:(?:\/\.?|\.)[-a-z0-9]+)*(?:\/\.?|\.)?$/.test(name)) {
    return `invalid chart name '${name}': a valid name must be lower case letters and numbers and MAY be separated with dashes (-), slashes (/) or periods (.)`;
  }
  return undefined;
}
