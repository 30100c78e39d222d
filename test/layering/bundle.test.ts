import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * The public entry bundles for a browser: no Node built-in is reachable from src/index.ts, and
 * neither are the Node-only modules (the addon loader, files, data on disk, training runs, CLI).
 * The lint rule (eslint.config.js) keeps each import edge in its layer; this checks the result.
 */
describe('the browser bundle of the public entry', () => {
  it('builds with esbuild --platform=browser and reaches no Node-only module', async () => {
    const result = await build({
      entryPoints: ['src/index.ts'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      outfile: 'out.js',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs).filter((p) => p.startsWith('src/'));
    expect(inputs).toContain('src/optimizers/base.ts');
    expect(inputs).toContain('src/prediction/step.ts');
    const nodeOnly = inputs.filter((p) =>
      /^src\/(node\.ts|files\.ts|kernels\/(native|node)\.ts|(data|training|experiments|report|cli)\/)/.test(
        p,
      ),
    );
    expect(nodeOnly).toEqual([]);
    const text = result.outputFiles[0]!.text;
    expect(text).not.toMatch(/from ["']node:/);
    expect(text).not.toMatch(/import\(["']node:/);
  });

  it('fails, naming the import, when a Node built-in is reachable (the check can fail)', async () => {
    await expect(
      build({
        stdin: { contents: "import { readFileSync } from 'node:fs'; console.log(readFileSync);" },
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'silent',
      }),
    ).rejects.toThrow(/node:fs/);
  });
});
