// Models: public names with targets (one "backend model [weight]" per line), strategy,
// fallbacks and pricing.
import { entityPage } from '../crud.js';

const targets = {
  format: (ts) => (ts || []).map((t) => `${t.backend} ${t.model}${t.weight !== 1 ? ` ${t.weight}` : ''}`).join('\n'),
  parse: (text) => text.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
    const [backend, model, weight] = line.split(/\s+/);
    return weight ? { backend, model, weight: Number(weight) } : { backend, model };
  }),
};

export async function render(main) {
  await entityPage(main, {
    title: 'Models', noun: 'model', path: '/admin/models',
    columns: [
      { label: 'Name', cell: (m) => m.name },
      { label: 'Targets', cell: (m) => m.targets.map((t) => `${t.backend}/${t.model}`).join(', ') },
      { label: 'Strategy', cell: (m) => m.strategy },
      { label: 'Fallbacks', cell: (m) => m.fallbacks.join(', ') || '—' },
      { label: 'Price in / out per Mtok', cell: (m) => `$${m.pricing.input_per_mtok} / $${m.pricing.output_per_mtok}` },
    ],
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'targets', label: 'Targets', kind: 'lines', required: true, ...targets, hint: 'One per line: backend model [weight]' },
      { name: 'strategy', label: 'Strategy', kind: 'select', options: ['weighted', 'round_robin', 'least_busy', 'lowest_latency'] },
      { name: 'fallbacks', label: 'Fallbacks', kind: 'list', hint: 'Model names, in order.' },
      { name: 'pricing.input_per_mtok', label: 'Input price per Mtok (USD)', kind: 'number' },
      { name: 'pricing.output_per_mtok', label: 'Output price per Mtok (USD)', kind: 'number' },
    ],
  });
}
