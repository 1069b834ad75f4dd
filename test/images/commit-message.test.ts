/**
 * Commit messages: the Go text/template subset over Flux's TemplateData, with the templates
 * Flux's docs show, the functions users reach for, Go's errors, and the removed fields.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CommitMessageError, DEFAULT_MESSAGE_TEMPLATE, RemovedTemplateFieldError, renderCommitMessage, type CommitMessageData } from '../../shared/images/commit-message.js';
import { GoTemplate, TemplateError } from '../../shared/images/go-template.js';

const data: CommitMessageData = {
  automation: { namespace: 'flux-system', name: 'auto' },
  fileChanges: new Map([
    [
      'apps/podinfo.yaml',
      [
        {
          id: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo', namespace: 'apps' },
          changes: [{ oldValue: 'ghcr.io/x/podinfo:5.0.2', newValue: 'ghcr.io/x/podinfo:5.0.3', setter: 'flux-system:podinfo' }],
        },
      ],
    ],
    [
      'apps/a-values.yaml',
      [
        {
          id: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'web', namespace: 'apps' },
          changes: [{ oldValue: '1.0', newValue: '1.1', setter: 'flux-system:web:tag' }],
        },
      ],
    ],
  ]),
  values: { cluster: 'prod' },
};

describe('Flux documentation templates', () => {
  test('files and objects, with trimming', () => {
    const t = [
      'Automated image update',
      '',
      'Automation name: {{ .AutomationObject }}',
      '',
      'Files:',
      '{{ range $filename, $_ := .Changed.FileChanges -}}',
      '- {{ $filename }}',
      '{{ end -}}',
      '',
      'Objects:',
      '{{ range $resource, $changes := .Changed.Objects -}}',
      '- {{ $resource.Kind }} {{ $resource.Name }}',
      '  Changes:',
      '{{- range $_, $change := $changes }}',
      '    - {{ $change.OldValue }} -> {{ $change.NewValue }}',
      '{{ end -}}',
      '{{ end -}}',
    ].join('\n');
    assert.equal(
      renderCommitMessage(t, data),
      [
        'Automated image update',
        '',
        'Automation name: flux-system/auto',
        '',
        'Files:',
        '- apps/a-values.yaml',
        '- apps/podinfo.yaml',
        'Objects:',
        '- Deployment podinfo',
        '  Changes:',
        '    - ghcr.io/x/podinfo:5.0.2 -> ghcr.io/x/podinfo:5.0.3',
        '- HelmRelease web',
        '  Changes:',
        '    - 1.0 -> 1.1',
        '',
      ].join('\n'),
    );
  });

  test('Sprig functions in pipelines and if/else', () => {
    const t = '{{ range $r, $c := .Changed.Objects }}{{ $r.Kind | lower }}:{{ range $c }}{{ if contains "5.0.3" .NewValue }}ok{{ else }}skip{{ end }}{{ end }};{{ end }}';
    assert.equal(renderCommitMessage(t, data), 'deployment:ok;helmrelease:skip;');
  });

  test('.Values, .Changed.Changes, len, index, printf, missing keys', () => {
    const t = '{{ .Values.cluster }} {{ index .Values "cluster" }} [{{ .Values.nope }}] [{{ index .Values "nope" }}] {{ len .Changed.Changes }} {{ printf "%s/%03d" .AutomationObject.Name 7 }}';
    assert.equal(renderCommitMessage(t, data), 'prod prod [<no value>] [] 2 auto/007');
  });

  test('the default message', () => {
    assert.equal(renderCommitMessage(undefined, data), DEFAULT_MESSAGE_TEMPLATE);
    assert.equal(renderCommitMessage('', data), 'Update from image update automation');
  });
});

describe('the template language', () => {
  const run = (src: string, dot: Parameters<GoTemplate['execute']>[0] = null) => GoTemplate.parse('t', src).execute(dot);

  test('variables, assignment, else if, with, break and continue', () => {
    assert.equal(run('{{ $x := 1 }}{{ if eq $x 2 }}two{{ else if eq $x 1 }}one{{ else }}other{{ end }}'), 'one');
    assert.equal(run('{{ $x := "a" }}{{ with $x }}{{ . }}{{ $x = "b" }}{{ end }}{{ $x }}'), 'ab');
    assert.equal(run('{{ range $i, $v := list 1 2 3 4 }}{{ if eq $v 2 }}{{ continue }}{{ end }}{{ if eq $v 4 }}{{ break }}{{ end }}{{ $i }}{{ end }}'), '02');
    assert.equal(run('{{ range list }}x{{ else }}empty{{ end }}'), 'empty');
    assert.equal(run('{{/* a comment */}}a {{- " b" -}} c'), 'a bc');
    assert.equal(run('{{ "x" | printf "%s-%s" "y" }}'), 'y-x');
    assert.equal(run('{{ (list "a" "b") | join "," | upper }}'), 'A,B');
    assert.equal(run('{{ and 1 0 }} {{ or 0 "" "z" }} {{ not true }}'), '0 z false');
    assert.equal(run('{{ `raw\\n` }}'), 'raw\\n');
    assert.equal(run('{{ default "d" "" }} {{ trunc 3 "abcdef" }} {{ replace "a" "b" "aXa" }} {{ trimPrefix "v" "v1.2" }} {{ splitList "," "a,b" }}'), 'd abc bXb 1.2 [a b]');
  });

  test('unknown functions, unclosed blocks and undefined variables are errors with Go messages', () => {
    assert.throws(() => run('{{ shuffle "x" }}'), (e: unknown) => e instanceof TemplateError && e.message === 'template: t:1: function "shuffle" not defined');
    assert.throws(() => run('line1\n{{ if true }}'), { message: 'template: t:2: unexpected EOF' });
    assert.throws(() => run('{{ end }}'), { message: 'template: t:1: unexpected {{end}}' });
    assert.throws(() => run('{{ $nope }}'), /undefined variable: \$nope/);
    assert.throws(() => run('{{ template "x" }}'), /not supported/);
  });
});

describe('errors Flux reports', () => {
  test('.Updated and .Changed.ImageResult were removed: RemovedTemplateField', () => {
    assert.throws(() => renderCommitMessage('{{ range .Updated.Images }}{{ . }}{{ end }}', data), (e: unknown) => e instanceof RemovedTemplateFieldError && e.field === '.Updated' && /Please use '\.Changed' instead/.test(e.message));
    assert.throws(() => renderCommitMessage('{{ .Changed.ImageResult }}', data), (e: unknown) => e instanceof RemovedTemplateFieldError && e.field === '.Changed.ImageResult');
  });

  test('parse and execution errors name the template as Flux does', () => {
    assert.throws(() => renderCommitMessage('{{ .Nope }}', data), (e: unknown) => e instanceof CommitMessageError && /^failed to run template from spec: template: commit message:1:3: executing "commit message" at <\.Nope>: can't evaluate field Nope in type source\.TemplateData$/.test(e.message));
    assert.throws(() => renderCommitMessage('{{ if }}', data), (e: unknown) => e instanceof CommitMessageError && e.message.startsWith('unable to create commit message template from spec: template: commit message:1:'));
  });
});
