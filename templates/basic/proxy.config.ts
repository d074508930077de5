// proxykit config: edit and save while `proxykit dev` runs, changes apply at once.
// Reference: https://github.com/proxykit/proxykit#config
import { defineConfig, route } from 'proxykit';

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  routes: [
    // Answered by the proxy itself.
    route('/health').respond(200, 'ok'),
    // Everything else goes to your app.
    route('/*').to('http://127.0.0.1:3000'),
  ],
});
