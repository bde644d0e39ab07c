import request from 'supertest';
import { escapeHtml, html } from '../../../src/console';
import { type ConsoleBed, makeConsoleBed, signInAs } from './helpers';

describe('the html template', () => {
  it('escapes every interpolation', () => {
    const name = `"><script>alert('x')</script>&`;
    expect(String(html`<td title="${name}">${name}</td>`)).toBe(
      '<td title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</td>',
    );
  });

  it('nests fragments without escaping them twice, and renders null, undefined and false as nothing', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(String(html`<p>${inner}${null}${undefined}${false}${[inner, '&']}${3}</p>`)).toBe(
      '<p><b>&lt;i&gt;</b><b>&lt;i&gt;</b>&amp;3</p>',
    );
  });

  it('escapes backticks and single quotes too', () => {
    expect(escapeHtml("`'")).toBe('&#96;&#39;');
  });
});

describe('console escaping of uploaded metadata', () => {
  let bed: ConsoleBed;
  let incident: string;
  const hostile = '"><script>alert(1)<script><img src=x onerror=alert(2)>.jpg';
  const agentString = '<script>document.title="pwned"</script>';
  beforeAll(async () => {
    bed = await makeConsoleBed();
    const res = await request(bed.app)
      .post('/memory')
      .set('User-Agent', agentString)
      .attach('file', bed.images.known, hostile)
      .expect(451);
    incident = res.body.error.reference;
  });
  afterAll(() => bed.close());

  it('stores the name as sent', async () => {
    expect((await (await bed.gate.store()).getIncident(incident))!.file.originalName).toBe(hostile);
  });

  it('renders a file name and user agent with <script> escaped on the incident page', async () => {
    const { agent } = await signInAs(bed, 'reviewer');
    const page = await agent.get(`/console/incidents/${incident}`).expect(200);
    expect(page.text).not.toContain('<script');
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain(
      '<dd id="original-name">&quot;&gt;&lt;script&gt;alert(1)&lt;script&gt;&lt;img src=x onerror=alert(2)&gt;.jpg</dd>',
    );
    expect(page.text).toContain('&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;');
  });

  it('renders the name escaped in the incidents list', async () => {
    const { agent } = await signInAs(bed, 'viewer');
    const page = await agent.get('/console/incidents').expect(200);
    expect(page.text).not.toContain('<script');
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;script&gt;');
  });

  it('escapes what a user typed when it comes back in a page', async () => {
    const { agent } = await signInAs(bed, 'viewer');
    const page = await agent.get('/console/login?next=%2F%22%3E%3Cscript%3E').expect(303);
    expect(page.text).not.toContain('<script');
    const res = await request(bed.app).get('/console/login?next=%2Faudit%22%3E%3Cscript%3E');
    expect(res.text).not.toContain('<script');
  });
});
