/** Where the generated files go, relative to the repository root. */
export const OUTPUTS: { header: string; module: string };
/** The text of each generated file, keyed by its path; throws on a malformed source. */
export function render(spec: unknown): Record<string, string>;
