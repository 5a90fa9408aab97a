/**
 * The part of Prometheus's alert templates that messages need: `{{ $labels.NAME }}`,
 * `{{ $value }}` and `{{ $externalURL }}`. Anything else in braces is left as written, so a
 * template error never swallows a page.
 */
export interface TemplateData {
  labels: Record<string, string>;
  value: number | null;
  externalUrl: string;
}

function formatValue(v: number | null): string {
  if (v === null) return '';
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
}

export function expandTemplate(text: string, data: TemplateData): string {
  return text.replace(
    /\{\{\s*(\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)|\$value|\$externalURL)\s*\}\}/g,
    (_all, what: string, name?: string) => {
      if (name !== undefined) return data.labels[name] ?? '';
      if (what === '$value') return formatValue(data.value);
      return data.externalUrl;
    },
  );
}
