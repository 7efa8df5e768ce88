# Not built here (no Docker on the machine this was written on).
FROM node:20-slim
WORKDIR /app

# devDependencies stay installed: `npm start` / `npm run start:worker` run `nest build` in their pre-scripts.
COPY package.json package-lock.json ./
RUN npm ci

COPY . .
RUN npx nest build api && npx nest build worker

ENV PORT=3000
EXPOSE 3000
CMD ["npm", "start"]
