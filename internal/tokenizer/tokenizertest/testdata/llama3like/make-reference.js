// Writes ../reference/llama3like.jsonl: Hugging Face tokenizers (npm
// tokenizers@0.23.2) on llama3like/tokenizer.json.gz over corpus.jsonl, and
// counts the lines whose ids differ with ignore_merges off. Usage:
// node make-reference.js TESTDATA_DIR
const {Tokenizer} = require('tokenizers');
const fs = require('fs'), zlib = require('zlib'), tmp = require('os').tmpdir();
const dir = process.argv[2];
const json = zlib.gunzipSync(fs.readFileSync(dir + '/llama3like/tokenizer.json.gz')).toString();
fs.writeFileSync(tmp + '/l3.json', json);
const off = JSON.parse(json); off.model.ignore_merges = false;
fs.writeFileSync(tmp + '/l3off.json', JSON.stringify(off));
(async () => {
  const tok = Tokenizer.fromFile(tmp + '/l3.json'), tokOff = Tokenizer.fromFile(tmp + '/l3off.json');
  const lines = fs.readFileSync(dir + '/corpus.jsonl', 'utf8').split('\n').filter(Boolean).map(JSON.parse);
  let out = '', differ = 0, total = 0;
  for (const l of lines) {
    const a = (await tok.encode(l.text, null, {addSpecialTokens: false})).getIds();
    const b = (await tok.encode(l.text, null, {addSpecialTokens: true})).getIds();
    const c = (await tokOff.encode(l.text, null, {addSpecialTokens: false})).getIds();
    if (JSON.stringify(a) !== JSON.stringify(c)) differ++;
    total += a.length;
    out += JSON.stringify({id: l.id, ids_no_special: Array.from(a), ids_with_special: Array.from(b)}) + '\n';
  }
  fs.writeFileSync(dir + '/reference/llama3like.jsonl', out);
  console.log(`lines ${lines.length}, tokens ${total}, lines whose ids differ without ignore_merges: ${differ}`);
})();
