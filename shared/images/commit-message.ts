/**
 * The commit message of an ImageUpdateAutomation, as image-automation-controller renders
 * it: `spec.git.commit.messageTemplate` (default `Update from image update automation`)
 * executed as a Go text/template over Flux's TemplateData:
 *
 * - `.AutomationObject` (`.Namespace`, `.Name`; prints `namespace/name`);
 * - `.Changed.FileChanges` (file -> object -> []change), `.Changed.Objects` (object ->
 *   []change), `.Changed.Changes` (deduplicated []change); an object has `.APIVersion`,
 *   `.Kind`, `.Name`, `.Namespace`; a change `.OldValue`, `.NewValue`, `.Setter`;
 * - `.Values` (`spec.git.commit.messageTemplateValues`).
 *
 * The removed `.Updated` and `.Changed.ImageResult` fields are RemovedTemplateFieldError
 * (the automation is Stalled `RemovedTemplateField`), with Flux's messages.
 */
import { FluxlessError } from '../util/errors.js';
import { GoTemplate, TemplateError } from './go-template.js';
import { GoMap, GoStruct, type GoValue } from './go-values.js';
import { allChanges, objectChanges, type Change, type ObjectChanges, type ObjectIdentifier } from './setters.js';

/** Flux's default commit message. */
export const DEFAULT_MESSAGE_TEMPLATE = 'Update from image update automation';
const TEMPLATE_NAME = 'commit message';
const DOCS = 'https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template';

/** The template uses a field Flux removed (`.Updated`, `.Changed.ImageResult`). */
export class RemovedTemplateFieldError extends FluxlessError {
  readonly field: string;
  constructor(field: string) {
    const msg =
      field === '.Updated'
        ? `template uses removed '.Updated' field. Please use '.Changed' instead. See: ${DOCS}`
        : field === '.Changed.ImageResult'
          ? `template uses removed '.Changed.ImageResult' field. Please use '.Changed.FileChanges' or '.Changed.Objects' instead. See: ${DOCS}`
          : `template uses removed '${field}' field. See: ${DOCS}`;
    super('RemovedTemplateField', msg);
    this.field = field;
  }
}

/** The message template could not be parsed or run (GitOperationFailed in Flux). */
export class CommitMessageError extends FluxlessError {
  constructor(message: string, opts: { cause?: unknown; hint?: string } = {}) {
    super('CommitMessageFailed', message, opts);
  }
}

/** What the template sees, before conversion to Go values. */
export interface CommitMessageData {
  automation: { namespace: string; name: string };
  fileChanges: ReadonlyMap<string, ObjectChanges[]>;
  values: Record<string, string>;
}

function changeValue(c: Change): GoStruct {
  return new GoStruct('update.Change', { OldValue: c.oldValue, NewValue: c.newValue, Setter: c.setter });
}

function objectValue(id: ObjectIdentifier): GoStruct {
  const typeMeta = new GoStruct('yaml.TypeMeta', { APIVersion: id.apiVersion, Kind: id.kind });
  const nameMeta = new GoStruct('yaml.NameMeta', { Name: id.name, Namespace: id.namespace });
  const resourceId = new GoStruct('yaml.ResourceIdentifier', { TypeMeta: typeMeta, NameMeta: nameMeta });
  // Embedded structs: their fields are promoted, printing shows the nesting as fmt does.
  return new GoStruct(
    'update.ObjectIdentifier',
    { ResourceIdentifier: resourceId },
    { APIVersion: () => id.apiVersion, Kind: () => id.kind, Name: () => id.name, Namespace: () => id.namespace, TypeMeta: () => typeMeta, NameMeta: () => nameMeta },
  );
}

function objectChangesValue(list: readonly ObjectChanges[]): GoMap {
  return new GoMap(
    list.map((o) => [objectValue(o.id), o.changes.map(changeValue)] as [GoValue, GoValue]),
    'update.ObjectChanges',
    false,
    null,
  );
}

/** The TemplateData value (Flux's source.TemplateData) for the template engine. */
export function templateData(d: CommitMessageData): GoStruct {
  const fileChanges = new GoMap(
    [...d.fileChanges].map(([file, objs]) => [file, objectChangesValue(objs)] as [GoValue, GoValue]),
    'map[string]update.ObjectChanges',
    true,
    null,
  );
  const result = new GoStruct(
    'update.Result',
    { FileChanges: fileChanges },
    { Changes: () => allChanges(d.fileChanges).map(changeValue), Objects: () => objectChangesValue(objectChanges(d.fileChanges)) },
  );
  const automation = new GoStruct('types.NamespacedName', { Namespace: d.automation.namespace, Name: d.automation.name }, undefined, () => `${d.automation.namespace}/${d.automation.name}`);
  const values = new GoMap(Object.entries(d.values).map(([k, v]) => [k, v] as [GoValue, GoValue]), 'map[string]string', true, '');
  return new GoStruct('source.TemplateData', { AutomationObject: automation, Changed: result, Values: values });
}

/** Parses a message template (Flux: `unable to create commit message template from spec: ...`). */
export function parseMessageTemplate(template: string | undefined): GoTemplate {
  try {
    return GoTemplate.parse(TEMPLATE_NAME, template || DEFAULT_MESSAGE_TEMPLATE);
  } catch (err) {
    throw new CommitMessageError(`unable to create commit message template from spec: ${(err as Error).message}`, {
      cause: err,
      hint: 'fix spec.git.commit.messageTemplate (Go text/template syntax; Sprig functions)',
    });
  }
}

/** Renders the commit message; throws RemovedTemplateFieldError or CommitMessageError. */
export function renderCommitMessage(template: string | undefined, data: CommitMessageData): string {
  const t = parseMessageTemplate(template);
  try {
    return t.execute(templateData(data));
  } catch (err) {
    const msg = err instanceof TemplateError ? err.message : String(err);
    if (msg.includes("can't evaluate field Updated in type source.TemplateData")) throw new RemovedTemplateFieldError('.Updated');
    if (msg.includes("can't evaluate field ImageResult in type update.Result")) throw new RemovedTemplateFieldError('.Changed.ImageResult');
    throw new CommitMessageError(`failed to run template from spec: ${msg}`, { cause: err, hint: 'fix spec.git.commit.messageTemplate' });
  }
}
